#!/usr/bin/env bash
# Repository sync benchmark: `vouch sync` against `skopeo sync` (1.9.3),
# 100 small tags between two local registries, same policy, one run.
#
#   bench/sync.sh                         # 3 rounds, 100 tags
#   BENCH_ROUNDS=5 BENCH_TAGS=200 bench/sync.sh
#
# Environment:
#   VOUCH           vouch binary (default: target/release/vouch, built with
#                   `cargo build --release --bin vouch` if missing, unless
#                   BENCH_NO_BUILD=1)
#   BENCH_ROUNDS    rounds per tool (default 3); medians reported
#   BENCH_TAGS      tags in the source repository (default 100)
#   TMPDIR          where the registries live (default /tmp)
#
# Set-up (untimed): registry A on a free 127.0.0.1 port gets A/bench/app:t1
# .. :tN, uploaded straight over the registry API by a small Python script.
# Each tag is a small image as real repositories have them: one of 4 shared
# base layers (~2 MB gzip each, busybox-sized), a layer of its own (8–64 KB)
# and its own config, so a sync moves ~4×2 MB of shared and N small blobs
# and must notice the shared ones are already there.
#
# Timed (wall clock with `date +%s.%N`; peak RSS and user+sys CPU from
# `/usr/bin/time -v`), each into a fresh, empty registry B per run:
#   skopeo --policy P --registries.d D sync --src docker --dest docker \
#          --src-tls-verify=false --dest-tls-verify=false A/bench/app B/mirror
#   vouch  --policy P --registries.d D sync  (the same arguments)
# P accepts anything, D is an empty registries.d (no lookaside, so no
# signatures).  Both put the tags at B/mirror/app:tK; after every run the
# tag list and every manifest digest at B are checked against A.
# Rounds alternate which tool goes first; `sync` runs before each timed run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

rounds=${BENCH_ROUNDS:-3}
ntags=${BENCH_TAGS:-100}
for v in rounds ntags; do
    if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
        echo "BENCH_${v^^}: must be a positive integer, got '${!v}'" >&2
        exit 2
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench-sync.XXXXXX")
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
require_cmds "python3, docker-registry, skopeo" python3 docker-registry skopeo
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

find_vouch
tools="vouch skopeo"
if ! "$vouch" sync --help >/dev/null 2>&1; then
    log "'$vouch' has no sync command: skopeo runs only (build a vouch that has one)"
    tools=skopeo
fi

regd=$work/registries.d
mkdir -p "$regd"
echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$work/policy.json"

# registry_tool: seed HOST REPO N | check HOST REPO HOST2 REPO2 N.
registry_tool() {
    python3 - "$@" <<'PY'
import gzip, hashlib, io, json, random, sys, tarfile, urllib.error, urllib.request

ACCEPT = ",".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])

def req(method, url, data=None, headers=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    return urllib.request.urlopen(r, timeout=60)

def layer(rng, files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, size in files:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = size, 1700000000, 0o755
            t.addfile(ti, io.BytesIO(rng.randbytes(size)))
    raw = buf.getvalue()
    return gzip.compress(raw, compresslevel=6, mtime=0), "sha256:" + hashlib.sha256(raw).hexdigest()

def put_blob(host, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        req("HEAD", f"http://{host}/v2/{repo}/blobs/{digest}")
        return digest
    except urllib.error.HTTPError:
        pass
    loc = req("POST", f"http://{host}/v2/{repo}/blobs/uploads/").headers["Location"]
    if loc.startswith("/"):
        loc = f"http://{host}{loc}"
    sep = "&" if "?" in loc else "?"
    req("PUT", f"{loc}{sep}digest={digest}", data, {"Content-Type": "application/octet-stream"})
    return digest

def seed(host, repo, n):
    n = int(n)
    bases = []
    for k in range(4):
        rng = random.Random(f"base-{k}")
        files = [(f"bin/tool{j}", rng.randint(40_000, 120_000)) for j in range(25)]
        gz, diff = layer(rng, files)
        bases.append((put_blob(host, repo, gz), len(gz), diff))
    total = sum(b[1] for b in bases)
    for i in range(1, n + 1):
        rng = random.Random(f"tag-{i}")
        gz, diff = layer(rng, [(f"app/data{i}", rng.randint(8_000, 64_000))])
        own = (put_blob(host, repo, gz), len(gz), diff)
        total += own[1]
        base = bases[i % len(bases)]
        config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/app/run"], "Env": [f"TAG=t{i}"]},
            "rootfs": {"type": "layers", "diff_ids": [base[2], own[2]]},
        }, sort_keys=True).encode()
        cdig = put_blob(host, repo, config)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": cdig, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": d, "size": s} for d, s, _ in (base, own)],
        }).encode()
        req("PUT", f"http://{host}/v2/{repo}/manifests/t{i}", manifest,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    print(f"{n} tags, {total} bytes of blobs")

def digests(host, repo):
    tags = json.load(req("GET", f"http://{host}/v2/{repo}/tags/list?n=100000"))["tags"] or []
    out = {}
    for t in tags:
        body = req("GET", f"http://{host}/v2/{repo}/manifests/{t}", headers={"Accept": ACCEPT}).read()
        out[t] = hashlib.sha256(body).hexdigest()
    return out

def check(host, repo, host2, repo2, n):
    want, got = digests(host, repo), digests(host2, repo2)
    if len(want) != int(n):
        sys.exit(f"source has {len(want)} tags, expected {n}")
    missing = sorted(set(want) - set(got))
    wrong = sorted(t for t in want if t in got and got[t] != want[t])
    if missing or wrong:
        sys.exit(f"{host2}/{repo2}: {len(missing)} tags missing (e.g. {missing[:3]}), "
                 f"{len(wrong)} with another digest (e.g. {wrong[:3]})")

try:
    {"seed": seed, "check": check}[sys.argv[1]](*sys.argv[2:])
except urllib.error.URLError as e:
    sys.exit(f"registry: {e}")
PY
}

# ------------------------------------------------------------ source

start_registry "$work/registry-a"
a_pid=$REG_PID
a=127.0.0.1:$REG_PORT
log "seeding $a/bench/app with $ntags tags (untimed)"
seeded=$(registry_tool seed "$a" bench/app "$ntags")
log "seeded: $seeded"

# ------------------------------------------------------------ rounds

declare -A times=() cpus=() rss=() broken=()

fail() {
    broken[$1]=1
    log "$1 FAILED: $3 (last lines of $2 below; skipping further $1 rounds)"
    tail -n 15 "$2" | sed 's/^/    | /' >&2
}

one() {
    local tool=$1 out=$d/sync-$1.log b_pid b why
    local -a cmd
    [[ -z ${broken[$tool]:-} ]] || return 0
    start_registry "$d/reg-$tool"
    b_pid=$REG_PID
    b=127.0.0.1:$REG_PORT
    if [[ $tool == vouch ]]; then cmd=("$vouch"); else cmd=(skopeo); fi
    cmd+=(--policy "$work/policy.json" --registries.d "$regd" sync --src docker --dest docker
        --src-tls-verify=false --dest-tls-verify=false "$a/bench/app" "$b/mirror")
    sync
    if ! timed "$out" "${cmd[@]}"; then
        fail "$tool" "$out" "${cmd[*]}"
    elif ! why=$(registry_tool check "$a" bench/app "$b" mirror/app "$ntags" 2>&1); then
        echo "check: $why" >>"$out"
        fail "$tool" "$out" "$why"
    else
        times[$tool]+="$ELAPSED "
        cpus[$tool]+="$CPU_S "
        rss[$tool]+="$RSS_KB "
        log "sync $tool round $r: $ELAPSED s, CPU $CPU_S s, peak RSS $((RSS_KB / 1024)) MB"
    fi
    stop_registry "$b_pid" "$d/reg-$tool"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "machine: $(nproc) cores, load average $load_start; $rounds rounds"
for ((r = 1; r <= rounds; r++)); do
    d=$work/round-$r
    mkdir -p "$d"
    if ((r % 2)); then order="vouch skopeo"; else order="skopeo vouch"; fi
    for tool in $order; do
        if [[ " $tools " == *" $tool "* ]]; then one "$tool"; fi
    done
done
stop_registry "$a_pid" "$work/registry-a"

# ------------------------------------------------------------ report

declare -A med=() rss_max=()
echo
echo "== vouch sync vs skopeo sync =="
echo "machine: everything (both tools, the registries, other builds) shares $(machine_line);"
echo "         loopback, registry data in the page cache. Compare ratios, not absolute times."
echo "         load average (1/5/15 min) at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "skopeo:  $(skopeo --version 2>/dev/null); vouch: $("$vouch" --version 2>/dev/null) ($vouch)"
echo "source:  $seeded in $a/bench/app (4 shared base layers)"
echo "rounds:  $rounds per tool, alternating which goes first, fresh destination registry each;"
echo "         wall median/min/max, CPU = user+sys median, peak RSS = Maximum resident set size (median, max)"
echo
printf '%-7s %9s %7s %7s %8s %7s %13s\n' tool "median s" "min s" "max s" "tags/s" "CPU s" "RSS MB med/max"
for tool in vouch skopeo; do
    if [[ -z ${times[$tool]:-} ]]; then
        printf '%-7s %9s\n' "$tool" "n/a"
        continue
    fi
    summarize "${times[$tool]}" "${cpus[$tool]}" "${rss[$tool]}"
    med[$tool]=$S_MED
    rss_max[$tool]=$S_RSS_MAX
    printf '%-7s %9.3f %7.3f %7.3f %8.1f %7.3f %8s/%-4s\n' "$tool" "$S_MED" "$S_MIN" "$S_MAX" \
        "$(awk -v n="$ntags" -v t="$S_MED" 'BEGIN { printf "%.1f", n / t }')" \
        "$S_CPU" "$S_RSS" "$S_RSS_MAX"
    if ((S_N < rounds)); then echo "      (only $S_N of $rounds rounds succeeded)"; fi
done
echo
v=${med[vouch]:-} s=${med[skopeo]:-}
if [[ -n $v && -n $s ]]; then
    echo "sync $ntags tags: vouch $(printf '%.2f' "$v") s, skopeo $(printf '%.2f' "$s") s $(ratio "$s" "$v")"
    echo "targets (issue 14):"
    echo "  >= 2x faster than skopeo sync: $(awk -v s="$s" -v v="$v" 'BEGIN {
        printf "%.2fx %s", s / v, (s / v >= 2 ? "MET" : "MISSED") }')"
    k=${rss_max[vouch]:-0}
    echo "  vouch peak RSS < 64 MB (max over rounds): $k MB $( ((k > 0 && k < 64)) && echo MET || echo MISSED)"
fi
if ((${#broken[@]})); then
    echo "failed: ${!broken[*]} (see messages above)"
fi
