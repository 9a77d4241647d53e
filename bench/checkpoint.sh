#!/usr/bin/env bash
# Checkpoint/restore benchmark (issue 7): vouch against podman (Debian's
# 4.3.1, runc + cgroupfs as scripts/setup.sh configures it) with the same
# runc and the same CRIU, the same busybox httpd image, one run each.
#
#   bench/checkpoint.sh
#   BENCH_TOOLS=vouch bench/checkpoint.sh
#
# Environment:
#   VOUCH         vouch binary (default target/release/vouch, built with
#                 `cargo build --release` unless BENCH_NO_BUILD=1)
#   BENCH_TOOLS   subset of "vouch podman" (default both)
#   TMPDIR        where the throwaway stores live (default /tmp)
#
# What is timed (wall clock around one command):
#   httpd (run -dt -p PORT:80, the tutorial's web server):
#     checkpoint   TOOL container checkpoint web
#     restore      TOOL container restore web      (then an HTTP GET must answer)
#     export       TOOL container checkpoint -e FILE web
#     import       TOOL container restore -i FILE  (after rm; same store, image present)
#     archive      size of FILE (zstd, both tools' default)
#   counter (sh -c 'i=0; while …; echo $i; sleep 0.1'):
#     checkpoint, restore
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
tools=${BENCH_TOOLS:-vouch podman}
[[ $(id -u) == 0 ]] || { echo "$0: needs root (containers, CRIU)" >&2; exit 1; }
criu check >/dev/null 2>&1 || { echo "$0: \`criu check\` fails; run scripts/install-criu.sh" >&2; exit 1; }

# shellcheck source=bench/containers-lib.sh
source "$here/containers-lib.sh" vouch-ckbench

# ms CMD...: runs CMD once, prints its wall time in milliseconds.
ms() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>"$work/last.err" || { echo "failed: $* ($(cat "$work/last.err"))" >&2; return 1; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}

answers() {
    local port=$1 i
    for i in $(seq 1 100); do
        curl -s -m 2 --noproxy '*' "http://127.0.0.1:$port/" | grep -q '<html' && return 0
        sleep 0.05
    done
    echo "nothing answered on port $port" >&2
    return 1
}

log "building the httpd fixture"
bash "$repo/fixtures/build-httpd.sh" "$work/httpd.tar" >/dev/null
cmd='CMD ["/bin/httpd","-f","-v","-p","80","-h","/www"]'
have vouch && V import --change "$cmd" --change 'EXPOSE 80/tcp' "$work/httpd.tar" localhost/httpd >/dev/null
have podman && P import --change "$cmd" --change 'EXPOSE 80/tcp' "$work/httpd.tar" localhost/httpd >/dev/null

declare -A R
counter='i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done'
for tool in vouch podman; do
    have $tool || continue
    T=V; [[ $tool == podman ]] && T=P
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    log "$tool: httpd"
    $T run -dt --name web -p "$port:80/tcp" localhost/httpd >/dev/null
    answers "$port"
    R[$tool,checkpoint]=$(ms $T container checkpoint web)
    R[$tool,restore]=$(ms $T container restore web)
    answers "$port"
    R[$tool,export]=$(ms $T container checkpoint -e "$work/$tool.tar.zst" web)
    R[$tool,archive]=$(stat -c %s "$work/$tool.tar.zst")
    $T rm -f web >/dev/null 2>&1
    R[$tool,import]=$(ms $T container restore -p "$port:80/tcp" -i "$work/$tool.tar.zst")
    answers "$port"
    $T rm -f web >/dev/null 2>&1

    log "$tool: counter"
    $T run -d --name counter localhost/httpd sh -c "$counter" >/dev/null
    sleep 0.5
    R[$tool,counter-checkpoint]=$(ms $T container checkpoint counter)
    R[$tool,counter-restore]=$(ms $T container restore counter)
    sleep 0.3
    $T logs counter | tail -n 1 | grep -qE '^[0-9]+$' || log "warning: $tool counter log looks wrong"
    $T rm -f counter >/dev/null 2>&1
done

printf '\n%-20s %10s %10s %8s\n' metric vouch podman ratio
for m in checkpoint restore export import counter-checkpoint counter-restore archive; do
    v=${R[vouch,$m]:-} p=${R[podman,$m]:-}
    ratio=-
    [[ -n $v && -n $p && $p != 0 ]] && ratio=$(awk -v v="$v" -v p="$p" 'BEGIN {printf "%.2f", v / p}')
    unit=ms; [[ $m == archive ]] && unit=B
    printf '%-20s %8s %s %8s %s %8s\n' "$m" "${v:--}" "$unit" "${p:--}" "$unit" "$ratio"
done
echo "(ratio = vouch/podman; one run each; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg); $(criu --version | head -1), $(runc --version | head -1))"
