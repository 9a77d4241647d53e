#!/usr/bin/env bash
# Pull/push benchmark: vouch against podman and skopeo, same image, same
# local registry, same machine.
#
#   bench/pull-push.sh                 # 5 rounds, all tools
#   BENCH_ROUNDS=3 BENCH_TOOLS="vouch skopeo" bench/pull-push.sh
#
# Environment:
#   VOUCH           vouch binary (default: target/release/vouch, built with
#                   `cargo build --release` if missing, unless BENCH_NO_BUILD=1)
#   BENCH_ROUNDS    rounds per tool and operation (default 5); medians reported
#   BENCH_TOOLS     subset of "vouch podman skopeo" (default: all three)
#   BENCH_SIZE_MB, BENCH_LAYERS, BENCH_SEED
#                   big-image parameters (default 210, 5, 1)
#   TMPDIR          where registries and stores live (default /tmp)
#
# What is timed (wall clock, `date +%s.%N` around the command):
#   pull  vouch:  vouch --root FRESH pull --tls-verify=false REG/bench/src:latest
#         podman: podman --root FRESH --runroot FRESH --storage-driver overlay
#                        pull --tls-verify=false REG/bench/src:latest
#         skopeo: skopeo copy --src-tls-verify=false docker://REG/bench/src:latest
#                        oci:FRESH:latest   (stores blobs as-is: no decompression)
#   push  vouch:  vouch --root R push --tls-verify=false localhost/big:latest
#                        REG2/bench/vouch-rN:latest
#         podman: podman --root R ... push --tls-verify=false localhost/big:latest
#                        REG2/bench/podman-rN:latest
#         skopeo: skopeo copy --dest-tls-verify=false oci-archive:big.tar
#                        docker://REG2/bench/skopeo-rN:latest
# Every push goes to a *fresh, empty* registry (REG2, new port, new storage):
# podman and skopeo share a blob-info cache (/var/lib/containers/cache) that
# remembers where each blob already sits, and would otherwise turn rounds 2..N
# into cross-repository mounts that upload nothing.  Registry start-up and
# store preparation (vouch load, podman load) are not timed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

rounds=${BENCH_ROUNDS:-5}
tools=${BENCH_TOOLS:-vouch podman skopeo}
size_mb=${BENCH_SIZE_MB:-210}
layers=${BENCH_LAYERS:-5}
seed=${BENCH_SEED:-1}
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
    echo "BENCH_ROUNDS must be a positive integer, got '$rounds'" >&2
    exit 2
fi

have_tool() { [[ " $tools " == *" $1 "* ]]; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench.XXXXXX")
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
require_cmds "python3, docker-registry, skopeo" python3 docker-registry skopeo

# fail TOOL-OP LOG MESSAGE: report a failed step once, show the log's tail.
declare -A broken=()
fail() {
    broken[$1]=1
    log "$1 FAILED: $3 (last lines of $2 below; skipping further $1 rounds)"
    tail -n 15 "$2" | sed 's/^/    | /' >&2
}

# ------------------------------------------------------------ image

big_image

# ------------------------------------------------------------ tools

vouch_ok=0
if have_tool vouch; then
    vouch=${VOUCH:-$repo/target/release/vouch}
    if [[ ! -x $vouch && -z ${VOUCH:-} && ${BENCH_NO_BUILD:-0} != 1 ]]; then
        if command -v cargo >/dev/null; then
            log "building vouch (cargo build --release; set BENCH_NO_BUILD=1 to skip)"
            (cd "$repo" && cargo build --release) >&2 || log "cargo build --release failed"
        else
            log "cargo not found; cannot build vouch"
        fi
    fi
    if [[ -x $vouch ]]; then
        vouch_ok=1
    else
        log "vouch binary '$vouch' is missing or not executable: skipping all vouch runs" \
            "(set VOUCH=/path/to/vouch)"
    fi
fi

podman_ok=0
if have_tool podman; then
    if command -v podman >/dev/null; then
        podman_ok=1
    else
        log "podman not installed: skipping podman runs"
    fi
fi
skopeo_ok=0
if have_tool skopeo; then
    skopeo_ok=1
fi

# ------------------------------------------------------------ registry

start_registry "$work/registry-src"
src_pid=$REG_PID
src=127.0.0.1:$REG_PORT
log "seeding $src/bench/src:latest"
if ! skopeo copy --quiet --dest-tls-verify=false "oci-archive:$big" \
    "docker://$src/bench/src:latest" >"$work/seed.log" 2>&1; then
    echo "$0: could not seed the registry:" >&2
    cat "$work/seed.log" >&2
    exit 1
fi

# Push sources, prepared once, untimed.
vouch_img=localhost/big:latest
if ((vouch_ok)); then
    log "vouch load (untimed)"
    if "$vouch" --root "$work/vouch-store" load -i "$big" >"$work/vouch-load.log" 2>&1; then
        # Use the name vouch reports (podman says "Loaded image: NAME"; an
        # oci-archive whose ref.name is "latest" becomes localhost/latest:latest)
        # and give it the benchmark's name if vouch can tag.
        loaded=$(sed -nE 's/^Loaded image(\(s\))?: *//p' "$work/vouch-load.log" | head -n 1)
        if [[ -n $loaded && $loaded != "$vouch_img" ]]; then
            if ! "$vouch" --root "$work/vouch-store" tag "$loaded" "$vouch_img" \
                >>"$work/vouch-load.log" 2>&1; then
                vouch_img=$loaded
            fi
        fi
    else
        fail vouch-push "$work/vouch-load.log" "vouch load -i $big"
    fi
fi

podman_store=(--root "$work/podman-store" --runroot "$work/podman-store-run" --storage-driver overlay)
if ((podman_ok)); then
    log "podman load (untimed)"
    if podman "${podman_store[@]}" load -i "$big" >"$work/podman-load.log" 2>&1 &&
        loaded=$(sed -nE 's/^Loaded image(\(s\))?: *//p' "$work/podman-load.log" | head -n 1) &&
        podman "${podman_store[@]}" tag "$loaded" localhost/big:latest >>"$work/podman-load.log" 2>&1; then
        :
    else
        fail podman-push "$work/podman-load.log" "podman load -i $big"
        log "hint: podman may need /etc/containers/containers.conf with [engine] runtime=\"runc\" cgroup_manager=\"cgroupfs\" (scripts/setup.sh writes it)"
    fi
fi

# ------------------------------------------------------------ rounds

declare -A times=() rss=()

# run TOOL OP LOG CMD...: time one run and record it, unless TOOL-OP broke.
run() {
    local tool=$1 op=$2 out=$3
    shift 3
    [[ -z ${broken[$tool-$op]:-} ]] || return 0
    # Flush the previous run's dirty pages first, so its writeback is not
    # billed to this one.
    sync
    if timed "$out" "$@"; then
        times[$tool-$op]+="$ELAPSED "
        rss[$tool-$op]+="$RSS_KB "
        log "$op $tool round $r: $ELAPSED s, peak RSS $((RSS_KB / 1024)) MB"
    else
        fail "$tool-$op" "$out" "$*"
        [[ $tool == podman ]] && log "hint: podman may need /etc/containers/containers.conf with [engine] runtime=\"runc\" cgroup_manager=\"cgroupfs\" (scripts/setup.sh writes it)"
    fi
    return 0
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "machine: $(nproc) cores, load average $load_start; $rounds rounds"
for ((r = 1; r <= rounds; r++)); do
    # Tools alternate within a round so slow drift in machine load (other
    # work on the 2 shared cores) spreads over all of them.
    d=$work/round-$r
    mkdir -p "$d"

    # --- pull from the seeded registry into a fresh store
    if ((vouch_ok)); then
        run vouch pull "$d/vouch-pull.log" \
            "$vouch" --root "$d/vouch-root" pull --tls-verify=false "$src/bench/src:latest"
        remove_tree "$d/vouch-root"
    fi
    if ((podman_ok)); then
        run podman pull "$d/podman-pull.log" \
            podman --root "$d/podman-root" --runroot "$d/podman-run" --storage-driver overlay \
            pull --tls-verify=false "$src/bench/src:latest"
        remove_tree "$d/podman-root" "$d/podman-run"
    fi
    if ((skopeo_ok)); then
        run skopeo pull "$d/skopeo-pull.log" \
            skopeo copy --src-tls-verify=false "docker://$src/bench/src:latest" "oci:$d/skopeo-oci:latest"
        remove_tree "$d/skopeo-oci"
    fi

    # --- push to a fresh, empty registry each time (see header)
    if ((vouch_ok)) && [[ -z ${broken[vouch-push]:-} ]]; then
        start_registry "$d/reg-vouch"
        run vouch push "$d/vouch-push.log" \
            "$vouch" --root "$work/vouch-store" push --tls-verify=false "$vouch_img" \
            "127.0.0.1:$REG_PORT/bench/vouch-r$r:latest"
        stop_registry "$REG_PID" "$d/reg-vouch"
    fi
    if ((podman_ok)) && [[ -z ${broken[podman-push]:-} ]]; then
        start_registry "$d/reg-podman"
        run podman push "$d/podman-push.log" \
            podman "${podman_store[@]}" push --tls-verify=false localhost/big:latest \
            "127.0.0.1:$REG_PORT/bench/podman-r$r:latest"
        stop_registry "$REG_PID" "$d/reg-podman"
    fi
    if ((skopeo_ok)); then
        start_registry "$d/reg-skopeo"
        run skopeo push "$d/skopeo-push.log" \
            skopeo copy --dest-tls-verify=false "oci-archive:$big" \
            "docker://127.0.0.1:$REG_PORT/bench/skopeo-r$r:latest"
        stop_registry "$REG_PID" "$d/reg-skopeo"
    fi
done
stop_registry "$src_pid" "$work/registry-src"

# ------------------------------------------------------------ report

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
declare -A med=()
echo
echo "== vouch pull/push benchmark =="
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
echo "machine: all tools, the registry and this script share ONE machine with"
echo "         $(nproc) cores (${cpu:-unknown CPU}) and $(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GiB;"
echo "         runs are sequential, over loopback, with the registry's data in"
echo "         the page cache. Absolute numbers are machine-specific; compare ratios."
echo "         load average (1/5/15 min) at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "image:  $layers layers, $(mb "$usize") MB uncompressed, $(mb "$csize") MB compressed (gzip),"
echo "        manifest $mdigest"
echo "rounds: $rounds per tool and operation; median, min, max of wall time"
echo "MB/s:   compressed bytes on the wire / median time"
echo
printf '%-5s %-7s %9s %8s %8s %8s %12s\n' op tool "median s" "min s" "max s" "MB/s" "peak RSS MB"
for op in pull push; do
    for tool in vouch podman skopeo; do
        have_tool "$tool" || continue
        key=$tool-$op
        if [[ -z ${times[$key]:-} ]]; then
            printf '%-5s %-7s %9s\n' "$op" "$tool" "n/a"
            continue
        fi
        read -ra ts <<<"${times[$key]}"
        read -ra rs <<<"${rss[$key]}"
        m=$(median "${ts[@]}")
        med[$key]=$m
        lo=$(printf '%s\n' "${ts[@]}" | sort -g | head -n 1)
        hi=$(printf '%s\n' "${ts[@]}" | sort -g | tail -n 1)
        rm_kb=$(median "${rs[@]}")
        printf '%-5s %-7s %9.3f %8.3f %8.3f %8.1f %12.0f\n' "$op" "$tool" "$m" "$lo" "$hi" \
            "$(awk -v b="$csize" -v t="$m" 'BEGIN { printf "%.1f", b / 1e6 / t }')" \
            "$(awk -v k="$rm_kb" 'BEGIN { printf "%.0f", k / 1024 }')"
        [[ ${#ts[@]} -lt $rounds ]] && echo "      (only ${#ts[@]} of $rounds rounds succeeded)"
    done
done
echo
echo "ratio = peer median / vouch median: (N x faster) means vouch took 1/N of the"
echo "peer's time; a bare (0.49x) means vouch is slower (took 1/0.49 = 2x as long)."
for op in pull push; do
    line="$op:"
    v=${med[vouch-$op]:-}
    if [[ -n $v ]]; then
        line+=" vouch $(printf '%.2f' "$v") s"
    else
        line+=" vouch n/a"
    fi
    for tool in podman skopeo; do
        p=${med[$tool-$op]:-}
        [[ -n $p ]] || { have_tool "$tool" && line+=", $tool n/a"; continue; }
        line+=", $tool $(printf '%.2f' "$p") s"
        if [[ -n $v ]]; then
            line+=$(awk -v p="$p" -v v="$v" 'BEGIN {
                r = p / v
                if (r >= 1) printf " (%.1fx faster)", r; else printf " (%.2fx)", r }')
        fi
    done
    echo "$line"
done
echo "note: skopeo pull stores the compressed blobs (no decompression); vouch and"
echo "podman pull into a store.  skopeo push reads the oci-archive (untars it to a"
echo "temp dir first); podman push recompresses layers from its store."
if [[ -n ${rss[vouch-pull]:-} ]]; then
    read -ra rs <<<"${rss[vouch-pull]}"
    echo "vouch pull peak RSS: $(awk -v k="$(median "${rs[@]}")" 'BEGIN { printf "%.0f", k / 1024 }') MB" \
        "(median of ${#rs[@]}; max $(printf '%s\n' "${rs[@]}" | sort -g | tail -n 1 |
            awk '{ printf "%.0f", $1 / 1024 }') MB)"
fi
if ((${#broken[@]})); then
    echo "failed: ${!broken[*]} (see messages above)"
fi
