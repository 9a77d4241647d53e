#!/usr/bin/env bash
# Builds the cargo-fuzz targets (fuzz/) and runs each for SECONDS_PER_TARGET
# seconds (default 60) from its committed seed corpus, then prints one line
# per target: executions, crashes, coverage. Exits 1 if any target crashed
# (or timed out, or ran out of memory), 2 if the fuzzers could not be built
# or run at all.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Targets default to all of `fuzz/fuzz_targets/`. Reproducers land in
# fuzz/artifacts/TARGET/; the corpus a run grows is thrown away (commit the
# inputs worth keeping into fuzz/corpus/TARGET/). FUZZ_SANITIZER (address,
# none, ...) is passed to `cargo fuzz build --sanitizer`; FUZZ_JOBS>1 runs
# that many fuzzer processes per target (libFuzzer -fork).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
[[ $secs =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS_PER_TARGET must be a number, got ${secs@Q}" >&2; exit 2; }

die() { echo "fuzz.sh: $*" >&2; exit 2; }
cargo +nightly --version >/dev/null 2>&1 || die "the nightly Rust toolchain is missing (rustup toolchain install nightly)"
cargo fuzz --version >/dev/null 2>&1 || die "cargo-fuzz is missing (bash scripts/setup.sh installs it)"

all=()
for f in fuzz/fuzz_targets/*.rs; do all+=("$(basename "$f" .rs)"); done
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ -f fuzz/fuzz_targets/$t.rs ]] || die "unknown target ${t@Q} (targets: ${all[*]})"
done

sanitizer=${FUZZ_SANITIZER:-address}
start=$SECONDS
echo "fuzz.sh: building ${#targets[@]} target(s) (sanitizer $sanitizer)" >&2
# `cargo fuzz build` takes one target or none (= all).
build_args=()
((${#targets[@]} == 1)) && build_args=("${targets[0]}")
cargo +nightly fuzz build --fuzz-dir fuzz --sanitizer "$sanitizer" "${build_args[@]}" >&2 \
  || die "cargo fuzz build failed"
echo "fuzz.sh: built in $((SECONDS - start)) s" >&2

host=$(rustc +nightly -vV | sed -n 's/^host: //p')
bindir=fuzz/target/$host/release
declare -A dict=(
  [policy_json]=json.dict [payload]=json.dict [registries_d]=yaml.dict
  [docker_ref]=docker_ref.dict [sigstore_path]=sigstore_path.dict
  [unpack]=tar.dict [checkpoint_archive]=tar.dict [sigstore_signature]=json.dict
  [sigstore_bundle]=json.dict [image_name]=image_name.dict [auth_file]=auth.dict
  [remote_inspect]=remote.dict [local_transports]=local.dict [sync_yaml]=yaml.dict
)

scratch=$(mktemp -d /tmp/vouch-fuzz.XXXXXX)
# Targets that work on files make their roots here (fuzz/src/lib.rs), on a
# tmpfs when there is one, so a crashed run leaves nothing behind either.
fs_scratch=$(mktemp -d /dev/shm/vouch-fuzz.XXXXXX 2>/dev/null || mktemp -d "$scratch/fs.XXXXXX")
trap 'rm -rf "$scratch" "$fs_scratch"' EXIT
export VOUCH_FUZZ_SCRATCH=$fs_scratch
failed=0
printf '%-20s %12s %8s %8s  %s\n' target executions crashes cov result
for t in "${targets[@]}"; do
  work=$scratch/$t
  mkdir -p "$work" "fuzz/artifacts/$t"
  # The unpack target's absolute escape sentinel starts empty every run.
  [[ $t == unpack ]] && rm -rf /tmp/vouch-fuzz-escape
  args=(-max_total_time="$secs" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048
        -artifact_prefix="fuzz/artifacts/$t/")
  [[ -n ${dict[$t]:-} ]] && args+=(-dict="fuzz/dict/${dict[$t]}")
  # Archives need room for several 512-byte headers and a payload.
  [[ $t == unpack || $t == checkpoint_archive || $t == local_transports ]] && args+=(-max_len=65536)
  if ((${FUZZ_JOBS:-1} > 1)); then args+=(-fork="$FUZZ_JOBS"); fi
  log=$scratch/$t.log
  rc=0
  "$bindir/$t" "${args[@]}" "$work" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  # (|| true: a fuzzer that died at once prints none of these lines.)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  [[ -n $execs ]] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
  crashes=$(grep -cE '^(==[0-9]+==ERROR|SUMMARY: libFuzzer|thread .* panicked)' "$log" || true)
  if ((rc != 0)); then
    failed=1
    ((crashes > 0)) || crashes=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    cp "$log" "fuzz/artifacts/$t/last-run.log"
    result="CRASH (exit $rc) ${artifact:-no artifact}; log fuzz/artifacts/$t/last-run.log"
  else
    crashes=0
    result=ok
  fi
  printf '%-20s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "$crashes" "${cov:-?}" "$result"
done
if ((failed)); then
  echo "fuzz.sh: a target crashed; reproduce with fuzz/target/$host/release/TARGET ARTIFACT" >&2
  exit 1
fi
