# Shared set-up of the container benchmarks (run.sh, checkpoint.sh); sourced,
# not run. Expects $repo and $tools ("vouch podman" or a subset) and takes
# the work directory's prefix as $1. Provides: log, have, V (vouch) and P
# (podman) on throwaway stores under $work, removed with every container and
# mount on exit.

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
have() { [[ " $tools " == *" $1 "* ]]; }

vouch_bin=${VOUCH:-$repo/target/release/vouch}
if [[ -z ${VOUCH:-} && ${BENCH_NO_BUILD:-0} != 1 ]]; then
    (cd "$repo" && cargo build --release -q)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
V() { "$vouch_bin" --root "$work/vouch" --runroot "$work/vouch-run" "$@"; }
P() { podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay "$@"; }

cleanup() {
    set +e
    have vouch && V rm -f -a >/dev/null 2>&1
    have podman && P rm -f -a -t 0 >/dev/null 2>&1
    have podman && P system reset -f >/dev/null 2>&1
    while read -r mnt; do umount -l "$mnt" 2>/dev/null; done < <(awk -v w="$work" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r)
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
