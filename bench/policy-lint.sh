#!/usr/bin/env bash
# policy-lint on a 10,000-scope policy with keys (issue 5 target: < 100 ms).
#
#   bench/policy-lint.sh
#   BENCH_SCOPES=50000 bench/policy-lint.sh
#
# The policy has BENCH_SCOPES docker scopes (default 10000), each with a
# signedBy requirement: a third by keyPath, a third by keyData, a third by
# keyPaths (two files, one of them with SHA-1 bindings, so a third of the
# scopes also produce a weak-key warning), plus a registries.d directory with
# a default-docker lookaside. Keys are the fixtures of policy-lint's tests.
# Reported: wall time of `policy-lint --registries.d DIR policy.json` (text
# output to /dev/null), by hyperfine when installed, else the best of 10 runs;
# and the CPU time (perf stat task-clock), which a busy machine inflates less.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
scopes=${BENCH_SCOPES:-10000}
bin=${POLICY_LINT:-$repo/target/release/policy-lint}
[[ -x $bin ]] || cargo build --release -q -p policy-lint --manifest-path "$repo/Cargo.toml"
keys=$repo/policy-lint/tests/fixtures

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/registries.d"
printf 'default-docker:\n  lookaside: https://sigs.example.com\n' >"$work/registries.d/default.yaml"

python3 - "$scopes" "$keys" "$work/policy.json" <<'PY'
import base64, json, sys
n, keys, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
data = base64.b64encode(open(f"{keys}/good.gpg", "rb").read()).decode()
docker = {}
for i in range(n):
    req = {"type": "signedBy", "keyType": "GPGKeys"}
    if i % 3 == 0:
        req["keyPath"] = f"{keys}/good.gpg"
    elif i % 3 == 1:
        req["keyData"] = data
    else:
        req["keyPaths"] = [f"{keys}/good.gpg", f"{keys}/sha1.asc"]
    req["signedIdentity"] = {"type": "matchRepository"}
    docker[f"registry{i % 97}.example.com/team{i}/app"] = [req]
policy = {"default": [{"type": "reject"}], "transports": {"docker": docker}}
json.dump(policy, open(out, "w"), indent=2)
PY

size=$(stat -c %s "$work/policy.json")
findings=$("$bin" --registries.d "$work/registries.d" --format json "$work/policy.json" | grep -c '"rule"' || true)
echo "policy: $scopes scopes, $size bytes, $findings findings" >&2
cmd="$bin --registries.d $work/registries.d $work/policy.json"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 2 --runs 20 --style basic -N --ignore-failure --output null "$cmd" 2>&1
else
  best=
  for _ in $(seq 10); do
    s=$(date +%s%N); $cmd >/dev/null || true; e=$(date +%s%N)
    ms=$(( (e - s) / 1000000 )); [[ -z $best || $ms -lt $best ]] && best=$ms
  done
  echo "best of 10: ${best} ms"
fi
if perf stat -e task-clock true >/dev/null 2>&1; then
  perf stat -r 10 -e task-clock $cmd 2>&1 >/dev/null | grep -E 'task-clock|elapsed'
fi
