# Shared helpers for bench/pull-push.sh, copy.sh and sync.sh (sourced, not run).
#
# Provides: log, require_cmds, free_port, start_registry/stop_registry
# (docker-registry on a free 127.0.0.1 port, filesystem storage, access log
# off), remove_tree, timed (wall, user+sys CPU and peak RSS of one command),
# median, summarize, ratio, big_image (the cached 210 MB archive), find_vouch
# (builds target/release/vouch when missing), gpg_key, machine_line and
# bench_cleanup (the EXIT trap; BENCH_KEEP=1 keeps the temp dir and its
# logs).  The caller sets `work` (a temp dir) and `repo` (the checkout)
# before sourcing.
# shellcheck shell=bash
# Inputs (work, repo, size_mb, ...) and outputs (ELAPSED, S_MED, big, ...) are
# the sourcing script's variables:
# shellcheck disable=SC2034,SC2154

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

registry_pids=()

# require_cmds HINT CMD...: exit unless every CMD is on PATH.
require_cmds() {
    local hint=$1 cmd
    shift
    for cmd in "$@"; do
        if ! command -v "$cmd" >/dev/null; then
            echo "$0: '$cmd' is required (Debian: $hint)" >&2
            exit 1
        fi
    done
}

# remove_tree DIR...: rm -rf that survives mounts.  podman's overlay driver
# bind-mounts ROOT/overlay onto itself and leaves that mount behind when a
# command fails; rm -rf then stops with EBUSY (and would kill the script
# under set -e).  Unmount everything below DIR first, deepest first.
remove_tree() {
    local dir mnt
    for dir in "$@"; do
        [[ -e $dir ]] || continue
        while read -r mnt; do
            [[ $mnt == "$dir" || $mnt == "$dir"/* ]] && { umount -l "$mnt" 2>/dev/null || true; }
        done < <(awk '{print $2}' /proc/self/mounts | sort -r)
        rm -rf "$dir" || log "warning: could not remove $dir"
    done
    return 0
}

bench_cleanup() {
    local pid
    set +e
    for pid in "${registry_pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    [[ -n ${GNUPGHOME:-} && $GNUPGHOME == "$work"/* ]] && gpgconf --kill all 2>/dev/null
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        log "BENCH_KEEP=1: logs left in $work"
    else
        remove_tree "$work"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_registry DIR: start a docker-registry with storage in DIR on a free
# port; sets REG_PORT and REG_PID.  Access logging off: it costs CPU that
# would be charged to whichever tool is being timed.
start_registry() {
    local dir=$1 i
    mkdir -p "$dir/data"
    REG_PORT=$(free_port)
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$REG_PORT
EOF
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    REG_PID=$!
    registry_pids+=("$REG_PID")
    for ((i = 0; i < 100; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$REG_PORT") 2>/dev/null; then
            return 0
        fi
        kill -0 "$REG_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "$0: docker-registry did not come up on 127.0.0.1:$REG_PORT:" >&2
    cat "$dir/log" >&2
    exit 1
}

# stop_registry PID DIR: stop it and delete its storage.
stop_registry() {
    local pid=$1 dir=$2 i
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for i in "${!registry_pids[@]}"; do
        [[ ${registry_pids[$i]} == "$pid" ]] && unset 'registry_pids[i]'
    done
    remove_tree "$dir"
}

# Peak RSS and CPU from GNU time -v ("Maximum resident set size (kbytes)",
# user and system seconds; Debian package "time").  Without it, VmHWM of the
# process is polled from /proc (the process only; CPU then reads 0).
if /usr/bin/time -v -o "$work/.time-probe" true 2>/dev/null &&
    grep -q 'Maximum resident set size' "$work/.time-probe"; then
    gnu_time=1
else
    gnu_time=0
    log "GNU time not found (apt-get install time); peak RSS comes from polling /proc/PID/status VmHWM, CPU is not measured"
fi

# timed LOG CMD...: run CMD with stdout and stderr to LOG; sets ELAPSED (s),
# CPU_S (user+sys s) and RSS_KB.  Returns CMD's exit status.
timed() {
    local out=$1 t0 t1 rc=0 pid hwm=0 v
    shift
    t0=$(date +%s.%N)
    if ((gnu_time)); then
        /usr/bin/time -v -o "$out.time" "$@" >"$out" 2>&1 || rc=$?
        t1=$(date +%s.%N)
        RSS_KB=$(awk -F': *' '/Maximum resident set size/ { print $2 }' "$out.time" 2>/dev/null)
        CPU_S=$(awk -F': *' '/User time \(seconds\)|System time \(seconds\)/ { s += $2 }
            END { printf "%.3f", s }' "$out.time" 2>/dev/null)
    else
        "$@" >"$out" 2>&1 &
        pid=$!
        while kill -0 "$pid" 2>/dev/null; do
            v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
            [[ -n $v ]] && hwm=$v
            sleep 0.05
        done
        wait "$pid" || rc=$?
        t1=$(date +%s.%N)
        RSS_KB=$hwm
        CPU_S=0
    fi
    [[ $RSS_KB =~ ^[0-9]+$ ]] || RSS_KB=0
    [[ $CPU_S =~ ^[0-9.]+$ ]] || CPU_S=0
    ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    return "$rc"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
            else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

# summarize TIMES CPUS RSS_KBS: space-separated samples in, medians out:
# S_MED S_MIN S_MAX (s), S_CPU (s), S_RSS S_RSS_MAX (MB), S_N (samples).
summarize() {
    local -a ts cs rs
    read -ra ts <<<"$1"
    read -ra cs <<<"$2"
    read -ra rs <<<"$3"
    S_N=${#ts[@]}
    S_MED=$(median "${ts[@]}")
    S_MIN=$(printf '%s\n' "${ts[@]}" | sort -g | head -n 1)
    S_MAX=$(printf '%s\n' "${ts[@]}" | sort -g | tail -n 1)
    S_CPU=$(median "${cs[@]}")
    S_RSS=$(awk -v k="$(median "${rs[@]}")" 'BEGIN { printf "%.0f", k / 1024 }')
    S_RSS_MAX=$(printf '%s\n' "${rs[@]}" | sort -g | tail -n 1 | awk '{ printf "%.0f", $1 / 1024 }')
}

# ratio PEER VOUCH: "(N.Nx faster)" when vouch took less time, "(0.NNx)" when more.
ratio() {
    awk -v p="$1" -v v="$2" 'BEGIN {
        if (v <= 0) { printf "(n/a)"; exit }
        r = p / v
        if (r >= 1) printf "(%.2fx faster)", r; else printf "(%.2fx)", r }'
}

# find_vouch: sets `vouch` to $VOUCH or target/release/vouch, building the
# latter with `cargo build --release --bin vouch` when missing (unless
# BENCH_NO_BUILD=1); exits when there is no binary.
find_vouch() {
    vouch=${VOUCH:-$repo/target/release/vouch}
    if [[ ! -x $vouch && -z ${VOUCH:-} && ${BENCH_NO_BUILD:-0} != 1 ]]; then
        log "building vouch (cargo build --release --bin vouch; set BENCH_NO_BUILD=1 to skip)"
        (cd "$repo" && cargo build --release --bin vouch) >&2 || log "cargo build --release failed"
    fi
    if [[ ! -x $vouch ]]; then
        echo "$0: vouch binary '$vouch' is missing or not executable (set VOUCH=/path/to/vouch)" >&2
        exit 1
    fi
}

# big_image: the big image of fixtures/make-big-image.py from size_mb,
# layers, seed (cached in fixtures/.cache/); sets big (the oci-archive),
# usize, csize (bytes) and mdigest (its manifest digest).
big_image() {
    local cache=$repo/fixtures/.cache
    mkdir -p "$cache"
    big=$cache/big-${size_mb}mb-${layers}l-seed${seed}.tar
    log "building/validating the big image (cached in fixtures/.cache/)"
    python3 "$repo/fixtures/make-big-image.py" "$big" --size-mb "$size_mb" \
        --layers "$layers" --seed "$seed" >&2
    read -r usize csize mdigest <<<"$(python3 -c '
import json, sys
img = json.load(open(sys.argv[1]))["image"]
print(img["uncompressed_size"], img["compressed_size"], img["manifest_digest"])
' "$big.params")"
}

# gpg_key: an RSA key in a throwaway GNUPGHOME under $work (for skopeo's
# --sign-by) and its public half in $work/public.gpg (for signedBy keyPath);
# sets FPR.
gpg_key() {
    export GNUPGHOME=$work/gnupg
    mkdir -m 700 "$GNUPGHOME"
    gpg --batch --passphrase '' --quick-gen-key "Bench Signer <bench@example.com>" default default never 2>/dev/null
    FPR=$(gpg --batch --with-colons --list-secret-keys bench@example.com | awk -F: '/^fpr:/ { print $10; exit }')
    gpg --batch --export "$FPR" >"$work/public.gpg"
}

# machine_line: cores, CPU, memory; for the report header.
machine_line() {
    local cpu
    cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
    echo "$(nproc) cores (${cpu:-unknown CPU}), $(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GiB"
}
