#!/usr/bin/env bash
# Lookaside read benchmark: sigstore-server against nginx and python's
# http.server serving the same 10,000 signature files, one run each, on
# loopback, driven by wrk (issue 4 targets).
#
#   bench/sigstore-server.sh
#   BENCH_SERVERS="sigstore-server nginx" BENCH_DURATION=5s bench/sigstore-server.sh
#
# Environment:
#   SIGSTORE_SERVER  binary (default target/release/sigstore-server, built with
#                    `cargo build --release -p sigstore-server` if missing)
#   BENCH_SERVERS    subset of "sigstore-server nginx python" (default: all)
#   BENCH_DURATION   wrk -d (default 10s); BENCH_THREADS wrk -t (2);
#                    BENCH_CONNECTIONS wrk -c (50)
#   BENCH_FILES      number of signature files (default 10000)
#   BENCH_ACCESS_LOG 1 (default): every server writes an access log to a
#                    file, as nginx does by default; 0: none does
#   TMPDIR           where the files and logs live (removed on exit)
#
# Scenarios, per server: "hot" (one file, every request) and "random" (a wrk
# Lua script picks one of the files per request). Reported: requests/s, p99
# latency (wrk --latency), server CPU time per request (utime+stime of all
# its threads and processes / requests: the figure least disturbed by other
# load on the machine), peak RSS of the server (sum of VmHWM over its
# processes: nginx master + workers), non-2xx/socket errors, and listen-queue
# overflows during the run (nstat TcpExtListenOverflows, system-wide).
#
# Client and server share the machine's cores: numbers are for the pair.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
servers=${BENCH_SERVERS:-sigstore-server nginx python}
duration=${BENCH_DURATION:-10s}
threads=${BENCH_THREADS:-2}
conns=${BENCH_CONNECTIONS:-50}
nfiles=${BENCH_FILES:-10000}
access_log=${BENCH_ACCESS_LOG:-1}

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

for cmd in wrk python3 curl; do
    command -v "$cmd" >/dev/null || { echo "$0: '$cmd' is required (scripts/setup.sh installs it)" >&2; exit 1; }
done

bin=${SIGSTORE_SERVER:-$repo/target/release/sigstore-server}
if [[ " $servers " == *" sigstore-server "* && ! -x $bin ]]; then
    log "building $bin"
    (cd "$repo" && cargo build --release -p sigstore-server)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sigstore-bench.XXXXXX")
chmod 755 "$work" # nginx workers run unprivileged and must read the files
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# ------------------------------------------------------------ data
root=$work/root
sig=${BENCH_SIGNATURE:-$repo/fixtures/containers-image/signature/fixtures/image.signature}
[[ -f $sig ]] || sig=/dev/null
log "writing $nfiles signature files"
python3 - "$root" "$nfiles" "$sig" >"$work/paths" <<'EOF'
import hashlib, os, sys
root, n, sig = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = open(sig, "rb").read() or os.urandom(700)
for i in range(n):
    h = hashlib.sha256(str(i).encode()).hexdigest()
    rel = f"bench/app{i % 100}@sha256={h}/signature-1"
    os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
    with open(os.path.join(root, rel), "wb") as f:
        f.write(body)
    print("/" + rel)
EOF
hot=$(head -1 "$work/paths")
cat >"$work/random.lua" <<'EOF'
-- One random signature path per request (paths file given after --).
local paths = {}
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)
end
function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
EOF

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port

wait_up() {
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$base$hot" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$0: $1 did not come up" >&2
    exit 1
}

# Peak RSS in MB: VmHWM summed over the server and its children.
rss_mb() {
    local total=0 p
    for p in $1 $(pgrep -P "$1" || true); do
        local kb
        kb=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    awk -v k="$total" 'BEGIN { printf "%.1f", k / 1024 }'
}

# CPU time (clock ticks) used so far by the server and its children's threads.
cpu_ticks() {
    local t=0 p f
    for p in $1 $(pgrep -P "$1" || true); do
        for f in /proc/"$p"/task/*/stat; do
            t=$((t + $(awk '{print $14 + $15}' "$f" 2>/dev/null || echo 0)))
        done
    done
    echo "$t"
}

overflows() { nstat -az TcpExtListenOverflows 2>/dev/null | awk '/TcpExtListenOverflows/ {print $2}' || echo "?"; }

start_server() {
    case $1 in
    sigstore-server)
        local flags=()
        [[ $access_log == 1 ]] || flags+=(--no-access-log)
        "$bin" --root "$root" --listen "127.0.0.1:$port" "${flags[@]}" 2>"$work/sigstore-server.log" &
        server_pid=$!
        ;;
    nginx)
        command -v nginx >/dev/null || { log "nginx missing, skipped"; return 1; }
        mkdir -p "$work/nginx/logs"
        local alog="off"
        [[ $access_log == 1 ]] && alog="$work/nginx/logs/access.log"
        cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 4096; }
http {
    access_log $alog;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        root $root;
    }
}
EOF
        nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
        server_pid=$!
        ;;
    python)
        python3 -m http.server --bind 127.0.0.1 --directory "$root" "$port" >/dev/null 2>"$work/python.log" &
        server_pid=$!
        ;;
    esac
    wait_up "$1"
}

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# "12.34ms" / "850.00us" / "1.20s" -> milliseconds
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n }'
}

results=$work/results
printf '%-16s %-7s %10s %8s %11s %7s %7s %9s\n' server scenario req/s p99_ms cpu_us/req rss_mb errors overflows >"$results"

run_one() {
    local name=$1 scenario=$2 out before after cpu0 cpu1
    local args=(-t"$threads" -c"$conns" -d"$duration" --latency)
    before=$(overflows)
    cpu0=$(cpu_ticks "$server_pid")
    if [[ $scenario == hot ]]; then
        out=$(wrk "${args[@]}" "$base$hot")
    else
        out=$(wrk "${args[@]}" -s "$work/random.lua" "$base" -- "$work/paths")
    fi
    after=$(overflows)
    cpu1=$(cpu_ticks "$server_pid")
    echo "$out" >"$work/wrk-$name-$scenario.txt"
    local rps p99 errs ovf reqs cpu_req
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    errs=$(awk '/Non-2xx|Socket errors/ {gsub(/,/, ""); for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i} END {print s + 0}' <<<"$out")
    if [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]]; then ovf=$((after - before)); else ovf="?"; fi
    # Server CPU per request: robust to other load on the machine.
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu_req=$(awk -v t=$((cpu1 - cpu0)) -v n="${reqs:-0}" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "?" }')
    printf '%-16s %-7s %10s %8s %11s %7s %7s %9s\n' "$name" "$scenario" "$rps" "$p99" "$cpu_req" \
        "$(rss_mb "$server_pid")" "$errs" "$ovf" >>"$results"
    log "$name $scenario: $rps req/s, p99 ${p99} ms"
}

for s in $servers; do
    log "starting $s on $base"
    start_server "$s" || continue
    wrk -t1 -c10 -d1s "$base$hot" >/dev/null # warm-up
    run_one "$s" hot
    run_one "$s" random
    stop_server
done

echo
echo "wrk -t$threads -c$conns -d$duration, $nfiles files, $(nproc) CPUs shared by client and server, access log: $access_log"
cat "$results"
