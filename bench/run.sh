#!/usr/bin/env bash
# Runtime benchmark: vouch against podman (Debian's, runc + cgroupfs as
# scripts/setup.sh configures it), same busybox httpd image, same network
# mode, same machine, one run.
#
#   bench/run.sh                       # 10 rounds per timing
#   BENCH_ROUNDS=20 bench/run.sh
#
# Environment:
#   VOUCH          vouch binary (default target/release/vouch, built with
#                  `cargo build --release` unless BENCH_NO_BUILD=1)
#   BENCH_ROUNDS   rounds per timed command (default 10); medians reported
#   BENCH_TOOLS    subset of "vouch podman" (default both)
#   TMPDIR         where the throwaway stores live (default /tmp)
#
# What is timed (wall clock around the command, median of the rounds):
#   run-bridge  TOOL run --rm IMAGE /bin/true                 (bridge network)
#   run-none    TOOL run --rm --network none IMAGE /bin/true
#   ps-20       TOOL ps            with 20 detached httpd containers running
#   logs-100k   TOOL logs CTR      of a container that printed 100 000 lines
# And the monitor's memory: mean RSS of the 20 monitors (vouch-monitor,
# podman's conmon), from /proc/PID/status VmRSS, and the RSS of one monitor
# whose container has written 2000 log lines.
# Stores are fresh directories (podman: --root/--runroot, overlay driver);
# image import and container start-up for ps/logs are not timed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
rounds=${BENCH_ROUNDS:-10}
tools=${BENCH_TOOLS:-vouch podman}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_ROUNDS must be a positive integer" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "$0: needs root (containers)" >&2; exit 1; }

# shellcheck source=bench/containers-lib.sh
source "$here/containers-lib.sh" vouch-rtbench

# median_ms CMD...: runs CMD $rounds times (output discarded), prints the
# median wall time in milliseconds.
median_ms() {
    local i t0 t1 times=()
    for ((i = 0; i < rounds; i++)); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}

log "building the httpd fixture"
bash "$repo/fixtures/build-httpd.sh" "$work/httpd.tar" >/dev/null
cmd='CMD ["/bin/httpd","-f","-v","-p","80","-h","/www"]'
have vouch && V import --change "$cmd" --change 'EXPOSE 80/tcp' "$work/httpd.tar" localhost/httpd >/dev/null
have podman && P import --change "$cmd" --change 'EXPOSE 80/tcp' "$work/httpd.tar" localhost/httpd >/dev/null

# monitor_rss TOOL: mean VmRSS (kB) of the tool's running monitors
# (vouch-monitor processes holding a file of this run's vouch store open,
# as a monitor holds its container's log; podman's conmon by its --root).
monitor_rss() {
    local pids p kb total=0 n=0
    if [[ $1 == vouch ]]; then
        pids=$(for p in $(pgrep -x vouch-monitor); do
            ls -l "/proc/$p/fd" 2>/dev/null | grep -q -- "$work/vouch/" && echo "$p"
        done)
    else
        pids=$(for p in $(pgrep -x conmon); do
            tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$work/podman" && echo "$p"
        done)
    fi
    for p in $pids; do
        kb=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        total=$((total + kb)) n=$((n + 1))
    done
    echo $((n ? total / n : 0))
}

declare -A R
for tool in vouch podman; do
    have $tool || continue
    T=V; [[ $tool == podman ]] && T=P
    log "$tool: warm-up"
    $T run --rm localhost/httpd /bin/true >/dev/null 2>&1
    $T run --rm --network none localhost/httpd /bin/true >/dev/null 2>&1
    log "$tool: run --rm (bridge)"
    R[$tool,run-bridge]=$(median_ms $T run --rm localhost/httpd /bin/true)
    log "$tool: run --rm --network none"
    R[$tool,run-none]=$(median_ms $T run --rm --network none localhost/httpd /bin/true)

    log "$tool: 20 detached containers"
    for i in $(seq 1 20); do $T run -d --network none --name "b$i" localhost/httpd >/dev/null; done
    R[$tool,ps-20]=$(median_ms $T ps)
    R[$tool,rss]=$(monitor_rss $tool)
    $T rm -f -a -t 0 >/dev/null 2>&1 || $T rm -f -a >/dev/null 2>&1
    log "$tool: monitor of a container that has written 2000 log lines"
    $T run -d --network none --name talk localhost/httpd sh -c 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; sleep 60' >/dev/null
    sleep 1
    R[$tool,rss-logging]=$(monitor_rss $tool)
    $T rm -f -t 0 talk >/dev/null 2>&1 || $T rm -f talk >/dev/null 2>&1

    log "$tool: logs of 100k lines"
    $T run --network none --name chatty localhost/httpd sh -c 'i=0; while [ $i -lt 100000 ]; do echo "line $i of the benchmark log"; i=$((i+1)); done' >/dev/null
    R[$tool,logs-100k]=$(median_ms $T logs chatty)
    lines=$($T logs chatty | wc -l)
    [[ $lines == 100000 ]] || log "warning: $tool logs printed $lines lines"
    $T rm -f chatty >/dev/null 2>&1
done

# The floor: what the OCI runtime alone costs on a bundle vouch already made
# (no image, store, overlay, network or monitor work), next to podman's
# run --rm --network none of the same run. Variants: runc with vouch's spec;
# runc with the seccomp filter removed (runc compiles the containers-common
# profile with libseccomp on every start); crun and youki where installed
# (crun refuses hybrid cgroup hosts; the refusal is printed).
declare -A F
if have vouch && have podman; then
    log "floor: OCI runtimes on a ready bundle"
    V run -d --network none --name floor localhost/httpd sleep 1000 >/dev/null
    fid=$(V inspect floor | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
    fb=$(find "$work/vouch" -path "*/$fid/bundle" -maxdepth 3 -type d | head -n1)
    mkdir -p "$work/floor/seccomp" "$work/floor/plain"
    cp -a "$fb/rootfs" "$work/floor/seccomp/rootfs"
    cp -a "$fb/rootfs" "$work/floor/plain/rootfs"
    python3 - "$fb/config.json" "$work/floor" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["root"]["path"] = "rootfs"
# binds of per-container files vouch manages; the runtime's cost is the same
c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")]
c["linux"].pop("cgroupsPath", None)
json.dump(c, open(sys.argv[2] + "/seccomp/config.json", "w"))
c["linux"].pop("seccomp", None)
json.dump(c, open(sys.argv[2] + "/plain/config.json", "w"))
PY
    V rm -f floor >/dev/null 2>&1
    n=0
    # oci_run RUNTIME BUNDLE: one `RUNTIME run` under a fresh id (run
    # deletes the container when its process exits).
    oci_run() { n=$((n + 1)); "$1" --root "$work/floor/state" run --bundle "$2" "floor-$$-$n"; }
    F[runc]=$(median_ms oci_run runc "$work/floor/seccomp")
    F[runc-noseccomp]=$(median_ms oci_run runc "$work/floor/plain")
    F[podman]=$(median_ms P run --rm --network none localhost/httpd /bin/true)
    for rt in crun ${YOUKI:-youki}; do
        command -v "$rt" >/dev/null || { F[$(basename "$rt")]="not installed"; continue; }
        if out=$(oci_run "$rt" "$work/floor/seccomp" 2>&1); then
            F[$(basename "$rt")]=$(median_ms oci_run "$rt" "$work/floor/seccomp")
        else
            F[$(basename "$rt")]="refused: $(printf '%s' "$out" | tail -n1 | cut -c1-70)"
        fi
    done
fi

printf '\n%-12s %12s %12s %8s\n' metric vouch podman ratio
for m in run-bridge run-none ps-20 logs-100k; do
    v=${R[vouch,$m]:-} p=${R[podman,$m]:-}
    ratio=-
    [[ -n $v && -n $p && $v != 0 ]] && ratio=$(awk -v v="$v" -v p="$p" 'BEGIN {printf "%.2f", v / p}')
    printf '%-12s %10s ms %10s ms %8s\n' "$m" "${v:--}" "${p:--}" "$ratio"
done
printf '%-12s %10s kB %10s kB\n' monitor-rss "${R[vouch,rss]:--}" "${R[podman,rss]:--}"
printf '%-12s %10s kB %10s kB\n' rss-logging "${R[vouch,rss-logging]:--}" "${R[podman,rss-logging]:--}"
if [[ -n ${F[podman]:-} ]]; then
    printf '\nfloor: the OCI runtime alone on a ready bundle vs podman run --rm --network none (%s ms)\n' "${F[podman]}"
    for k in runc runc-noseccomp crun "$(basename "${YOUKI:-youki}")"; do
        v=${F[$k]:-}
        if [[ $v =~ ^[0-9.]+$ ]]; then
            printf '%-16s %10s ms %8s\n' "$k" "$v" "$(awk -v v="$v" -v p="${F[podman]}" 'BEGIN {printf "%.2f", v / p}')"
        else
            printf '%-16s %s\n' "$k" "$v"
        fi
    done
fi
echo "(ratio = vouch/podman; medians of $rounds rounds; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
