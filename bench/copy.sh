#!/usr/bin/env bash
# Registry-to-registry copy benchmark: `vouch copy` against `skopeo copy`
# (1.9.3), same image, same registries, same policy, same machine, one run.
#
#   bench/copy.sh                                  # 5 rounds, every row
#   BENCH_ROUNDS=3 BENCH_ROWS="cross cross-signed" bench/copy.sh
#
# Environment:
#   VOUCH           vouch binary (default: target/release/vouch, built with
#                   `cargo build --release --bin vouch` if missing, unless
#                   BENCH_NO_BUILD=1)
#   BENCH_ROUNDS    rounds per row and tool (default 5); medians reported
#   BENCH_ROWS      subset of "cross cross-signed mount present" (default all)
#   BENCH_SIZE_MB, BENCH_LAYERS, BENCH_SEED
#                   big-image parameters (default 210, 5, 1): the cached
#                   oci-archive from fixtures/make-big-image.py
#   TMPDIR          where registries and lookasides live (default /tmp)
#
# Set-up (untimed): registry A on a free 127.0.0.1 port, seeded with
# A/bench/src:latest from the archive by `skopeo copy --sign-by` (a fresh
# RSA key), so A's file:// lookaside holds one simple signature.
#
# Rows (wall clock with `date +%s.%N` around the command; peak RSS and
# user+sys CPU from `/usr/bin/time -v`), each run by both tools as
#   vouch  --policy P --registries.d D copy --src-tls-verify=false --dest-tls-verify=false SRC DST
#   skopeo --policy P --registries.d D copy --src-tls-verify=false --dest-tls-verify=false SRC DST
# with SRC = docker://A/bench/src:latest and
#   cross         DST = docker://B/bench/copy:latest on a fresh, empty registry B
#                 per run; P accepts anything, D is empty (no lookaside): pure
#                 blob streaming A -> B.
#   cross-signed  as cross, but P is signedBy the key for A, D names A's
#                 lookaside and B's lookaside-staging (fresh per run): the
#                 signature is checked and carried to B's staging.
#   mount         DST = docker://A/bench/TOOL-rN:latest (same registry, new
#                 repository per run), signed as above: blobs can be
#                 cross-repository mounted (both tools try; skopeo learns
#                 A/bench/src from its blob-info cache, vouch from SRC).
#   present       DST = docker://C/bench/copy:latest on a registry C that
#                 already holds the image and its signature (filled once by
#                 skopeo, untimed): every blob is skipped.
# After every run the destination's manifest digest is checked against the
# source's, and for signed rows that a signature-1 landed in the staging.
#
# Fairness: rounds alternate which tool goes first; `sync` runs before each
# timed command so earlier writeback is not billed to it.  skopeo keeps a
# blob-info cache (/var/lib/containers/cache, no flag to move it); fresh
# registries are on new ports, so it only helps skopeo's mount row, as
# vouch's knowledge of SRC helps vouch's.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

rounds=${BENCH_ROUNDS:-5}
rows=${BENCH_ROWS:-cross cross-signed mount present}
size_mb=${BENCH_SIZE_MB:-210}
layers=${BENCH_LAYERS:-5}
seed=${BENCH_SEED:-1}
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
    echo "BENCH_ROUNDS must be a positive integer, got '$rounds'" >&2
    exit 2
fi
for row in $rows; do
    case $row in cross | cross-signed | mount | present) ;;
    *)
        echo "BENCH_ROWS: unknown row '$row' (cross cross-signed mount present)" >&2
        exit 2
        ;;
    esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench-copy.XXXXXX")
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
require_cmds "python3, docker-registry, skopeo, gnupg" python3 docker-registry skopeo gpg
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

find_vouch

# ------------------------------------------------------------ image, key, policy

big_image

log "generating an RSA key in a temporary GNUPGHOME"
gpg_key

regd_plain=$work/registries-plain.d
regd=$work/registries.d
mkdir -p "$regd_plain" "$regd"
echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$work/policy-plain.json"

# lookaside HOST STAGING-DIR: registries.d entry for HOST (read and write).
lookaside() {
    printf 'docker:\n  %s:\n    lookaside: file://%s\n    lookaside-staging: file://%s\n' "$1" "$2" "$2" \
        >"$regd/${1//[:.]/_}.yaml"
}

# manifest_digest HOST REPO TAG: sha256 of the manifest bytes the registry serves.
manifest_digest() {
    python3 - "$@" <<'PY'
import hashlib, sys, urllib.request
host, repo, tag = sys.argv[1:]
req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}", headers={"Accept": ",".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])})
try:
    print("sha256:" + hashlib.sha256(urllib.request.urlopen(req, timeout=30).read()).hexdigest())
except Exception as e:
    print(f"error: {e}")
PY
}

# ------------------------------------------------------------ source registry

start_registry "$work/registry-a"
a_pid=$REG_PID
a=127.0.0.1:$REG_PORT
lookaside "$a" "$work/sig-a"
cat >"$work/policy-signed.json" <<EOF
{"default": [{"type": "insecureAcceptAnything"}],
 "transports": {"docker": {"$a": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "$work/public.gpg"}]}}}
EOF
log "seeding $a/bench/src:latest, signed (skopeo copy --sign-by)"
if ! skopeo --policy "$work/policy-plain.json" --registries.d "$regd" copy --quiet \
    --dest-tls-verify=false --sign-by "$FPR" "oci-archive:$big" \
    "docker://$a/bench/src:latest" >"$work/seed.log" 2>&1; then
    echo "$0: could not seed the registry:" >&2
    cat "$work/seed.log" >&2
    exit 1
fi
got=$(manifest_digest "$a" bench/src latest)
if [[ $got != "$mdigest" ]]; then
    echo "$0: seeded manifest is $got, expected $mdigest" >&2
    exit 1
fi
if ! find "$work/sig-a" -name signature-1 | grep -q .; then
    echo "$0: skopeo --sign-by left no signature in $work/sig-a" >&2
    exit 1
fi

c_pid=
if [[ " $rows " == *" present "* ]]; then
    start_registry "$work/registry-c"
    c_pid=$REG_PID
    c=127.0.0.1:$REG_PORT
    lookaside "$c" "$work/sig-c"
    log "filling $c/bench/copy:latest for the all-present row (skopeo, untimed)"
    if ! skopeo --policy "$work/policy-signed.json" --registries.d "$regd" copy --quiet \
        --src-tls-verify=false --dest-tls-verify=false \
        "docker://$a/bench/src:latest" "docker://$c/bench/copy:latest" >"$work/fill-c.log" 2>&1; then
        echo "$0: could not fill registry C:" >&2
        cat "$work/fill-c.log" >&2
        exit 1
    fi
fi

# ------------------------------------------------------------ rounds

declare -A times=() cpus=() rss=() regcpus=() broken=()

fail() {
    broken[$1]=1
    log "$1 FAILED: $3 (last lines of $2 below; skipping further $1 rounds)"
    tail -n 15 "$2" | sed 's/^/    | /' >&2
}

# check LOG DHOST DREPO [STAGING]: the copy landed the source's manifest
# (and a signature in STAGING); prints what is wrong, if anything.
check() {
    local got
    got=$(manifest_digest "$2" "$3" latest)
    if [[ $got != "$mdigest" ]]; then
        echo "destination manifest is $got, expected $mdigest"
        return 1
    fi
    if [[ -n ${4:-} ]] && ! find "$4" -path "*/$3@sha256=*" -name signature-1 2>/dev/null | grep -q .; then
        echo "no signature-1 for $3 in $4"
        return 1
    fi
}

# proc_cpu PID...: user+sys seconds the processes have used so far.
proc_cpu() {
    local pid
    for pid in "$@"; do cat "/proc/$pid/stat" 2>/dev/null || true; done |
        awk -v hz="$(getconf CLK_TCK)" '{ s += $14 + $15 } END { printf "%.2f", s / hz }'
}

# run ROW TOOL LOG DHOST DREPO STAGING REGPIDS CMD...: time one run, check
# it, record it (with the CPU the registries REGPIDS spent meanwhile).
run() {
    local row=$1 tool=$2 out=$3 dhost=$4 drepo=$5 staging=$6 key=$1/$2 why c0 regcpu
    local -a regs
    read -ra regs <<<"$7"
    shift 7
    [[ -z ${broken[$key]:-} ]] || return 0
    sync
    c0=$(proc_cpu "${regs[@]}")
    if ! timed "$out" "$@"; then
        fail "$key" "$out" "$*"
        return 0
    fi
    if ! why=$(check "$out" "$dhost" "$drepo" "$staging"); then
        echo "check: $why" >>"$out"
        fail "$key" "$out" "$why"
        return 0
    fi
    regcpu=$(awk -v a="$c0" -v b="$(proc_cpu "${regs[@]}")" 'BEGIN { printf "%.2f", b - a }')
    times[$key]+="$ELAPSED "
    cpus[$key]+="$CPU_S "
    rss[$key]+="$RSS_KB "
    regcpus[$key]+="$regcpu "
    log "$row $tool round $r: $ELAPSED s, CPU $CPU_S s (registries $regcpu s), peak RSS $((RSS_KB / 1024)) MB"
}

# one ROW TOOL: the command line for TOOL in ROW, run and recorded.
one() {
    local row=$1 tool=$2 policy regdir dhost drepo staging="" b_pid="" reg_pids=$a_pid log=$d/$1-$2.log
    local -a cmd
    case $row in
    cross | cross-signed)
        start_registry "$d/reg-$row-$tool"
        b_pid=$REG_PID
        reg_pids+=" $b_pid"
        dhost=127.0.0.1:$REG_PORT
        drepo=bench/copy
        if [[ $row == cross ]]; then
            policy=$work/policy-plain.json regdir=$regd_plain
        else
            policy=$work/policy-signed.json regdir=$regd staging=$d/sig-$row-$tool
            lookaside "$dhost" "$staging"
        fi
        ;;
    mount)
        policy=$work/policy-signed.json regdir=$regd
        dhost=$a drepo=bench/$tool-r$r staging=$work/sig-a
        ;;
    present)
        policy=$work/policy-signed.json regdir=$regd
        dhost=$c drepo=bench/copy staging=$work/sig-c
        reg_pids+=" $c_pid"
        ;;
    esac
    if [[ $tool == vouch ]]; then
        cmd=("$vouch")
    else
        cmd=(skopeo)
    fi
    cmd+=(--policy "$policy" --registries.d "$regdir" copy --src-tls-verify=false --dest-tls-verify=false
        "docker://$a/bench/src:latest" "docker://$dhost/$drepo:latest")
    run "$row" "$tool" "$log" "$dhost" "$drepo" "$staging" "$reg_pids" "${cmd[@]}"
    if [[ -n $b_pid ]]; then
        rm -f "$regd/${dhost//[:.]/_}.yaml"
        stop_registry "$b_pid" "$d/reg-$row-$tool"
    fi
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "machine: $(nproc) cores, load average $load_start; $rounds rounds; rows: $rows"
for ((r = 1; r <= rounds; r++)); do
    d=$work/round-$r
    mkdir -p "$d"
    if ((r % 2)); then order="vouch skopeo"; else order="skopeo vouch"; fi
    for row in $rows; do
        for tool in $order; do
            one "$row" "$tool"
        done
    done
done
[[ -n $c_pid ]] && stop_registry "$c_pid" "$work/registry-c"

# What each tool said about its blobs in the last round (skipped/mounted/copied).
blob_summary() {
    local f=$1
    [[ -f $f ]] || { echo "-"; return; }
    awk '/^Copying (blob|config)/ {
            n++
            if (/skipped|already exists/) s++
            else if (/mount/) m++
        }
        END { printf "%d blobs: %d skipped, %d mounted, %d sent", n, s, m, n - s - m }' "$f"
}

# ------------------------------------------------------------ report

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
declare -A med=() rss_max=()
echo
echo "== vouch copy vs skopeo copy =="
echo "machine: everything (both tools, the registries, other builds) shares $(machine_line);"
echo "         loopback, registry data in the page cache. Compare ratios, not absolute times."
echo "         load average (1/5/15 min) at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "skopeo:  $(skopeo --version 2>/dev/null); vouch: $("$vouch" --version 2>/dev/null) ($vouch)"
echo "image:   $layers layers, $(mb "$usize") MB uncompressed, $(mb "$csize") MB compressed (gzip), manifest $mdigest"
echo "rounds:  $rounds per row and tool, alternating which tool goes first; wall time median/min/max,"
echo "         CPU = user+sys median of the tool; reg CPU = what the registries (source and"
echo "         destination docker-registry) spent meanwhile, median; peak RSS = GNU time's"
echo "         Maximum resident set size (median, max)"
echo
printf '%-13s %-7s %9s %7s %7s %7s %7s %9s %13s\n' row tool "median s" "min s" "max s" "MB/s" "CPU s" "reg CPU s" "RSS MB med/max"
for row in $rows; do
    for tool in vouch skopeo; do
        key=$row/$tool
        if [[ -z ${times[$key]:-} ]]; then
            printf '%-13s %-7s %9s\n' "$row" "$tool" "n/a"
            continue
        fi
        summarize "${times[$key]}" "${cpus[$key]}" "${rss[$key]}"
        read -ra gs <<<"${regcpus[$key]}"
        med[$key]=$S_MED
        rss_max[$key]=$S_RSS_MAX
        printf '%-13s %-7s %9.3f %7.3f %7.3f %7.1f %7.3f %9.2f %8s/%-4s\n' "$row" "$tool" \
            "$S_MED" "$S_MIN" "$S_MAX" \
            "$(awk -v b="$csize" -v t="$S_MED" 'BEGIN { printf "%.1f", b / 1e6 / t }')" \
            "$S_CPU" "$(median "${gs[@]}")" "$S_RSS" "$S_RSS_MAX"
        if ((S_N < rounds)); then echo "      (only $S_N of $rounds rounds succeeded)"; fi
    done
done
echo
echo "ratio = skopeo median / vouch median: (N x faster) means vouch took 1/N of skopeo's time."
for row in $rows; do
    v=${med[$row/vouch]:-} s=${med[$row/skopeo]:-}
    if [[ -n $v && -n $s ]]; then
        echo "$row: vouch $(printf '%.2f' "$v") s, skopeo $(printf '%.2f' "$s") s $(ratio "$s" "$v")"
    else
        echo "$row: vouch ${v:-n/a}, skopeo ${s:-n/a}"
    fi
    last=$work/round-$rounds
    echo "    last round, vouch: $(blob_summary "$last/$row-vouch.log") (skopeo does not say off a terminal)"
done
echo
echo "targets (issue 14):"
for row in cross cross-signed; do
    v=${med[$row/vouch]:-} s=${med[$row/skopeo]:-}
    [[ -n $v && -n $s ]] || continue
    echo "  $row: >= 1.5x faster than skopeo: $(awk -v s="$s" -v v="$v" 'BEGIN {
        printf "%.2fx %s", s / v, (s / v >= 1.5 ? "MET" : "MISSED") }')"
done
peak=0
for row in $rows; do
    k=${rss_max[$row/vouch]:-0}
    ((k > peak)) && peak=$k
done
if ((peak > 0)); then
    echo "  vouch peak RSS < 64 MB (max over all rows and rounds): $peak MB $( ((peak < 64)) && echo MET || echo MISSED)"
fi
if ((${#broken[@]})); then
    echo "failed: ${!broken[*]} (see messages above)"
fi
stop_registry "$a_pid" "$work/registry-a"
