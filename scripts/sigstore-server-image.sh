#!/usr/bin/env bash
# Build the sigstore-server OCI image with vouch, and push it signed.
#
#   scripts/sigstore-server-image.sh [--binary FILE] [--name NAME]
#       [--rootfs OUT.tar] [--sign-by KEY] [--tls-verify=BOOL] [DEST]
#
#   --binary FILE      the sigstore-server to package
#                      (default: target/release/sigstore-server)
#   --name NAME        local image name (default: localhost/sigstore-server:VERSION)
#   --rootfs OUT.tar   keep the root filesystem tarball there
#   --sign-by KEY      GnuPG key (fingerprint or e-mail) signing the pushed image
#   --tls-verify=BOOL  passed to vouch push
#   DEST               registry reference to push to (docker://… or host/repo:tag);
#                      without it the image is only imported into vouch's store
#
# VOUCH is the vouch command with its global flags, split into words
# (default: vouch), e.g.
#   VOUCH="target/release/vouch --root /var/lib/vouch --registries.d ./registries.d"
# The signature goes where registries.d says, as for any `vouch push --sign-by`
# (a lookaside-staging directory, or a sigstore-server over HTTP).
#
# The image holds the binary (debug info stripped), exactly the shared
# libraries `ldd` lists plus the dynamic loader (a static build needs none),
# /etc/passwd with the unprivileged user sigstore (65532), and its store
# /var/lib/sigstore. It runs
#   /usr/bin/sigstore-server --root /var/lib/sigstore --listen 0.0.0.0:8000
# as sigstore; arguments given to `run` are added after it (--tokens …).
# The root filesystem is reproducible (mtime 0, sorted entries), so the same
# binary gives the same image digest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

binary=$here/target/release/sigstore-server
name=
rootfs=
sign_by=
push_flags=()
dest=
while (($#)); do
    case $1 in
    --binary) binary=${2:?}; shift 2 ;;
    --name) name=${2:?}; shift 2 ;;
    --rootfs) rootfs=${2:?}; shift 2 ;;
    --sign-by) sign_by=${2:?}; shift 2 ;;
    --tls-verify=*) push_flags+=("$1"); shift ;;
    -h | --help) usage ;;
    -*) echo "$0: unknown option $1" >&2; usage ;;
    *) [[ -z $dest ]] || usage; dest=$1; shift ;;
    esac
done
read -r -a vouch <<<"${VOUCH:-vouch}"

if [[ ! -x $binary ]]; then
    echo "$0: $binary not found; build it with: cargo build --release -p sigstore-server" >&2
    exit 1
fi
if [[ -n $dest && -z $sign_by ]]; then
    echo "$0: pushing needs --sign-by KEY: the image is meant to be verified" >&2
    exit 1
fi
version=$("$binary" --version | awk '{print $2}')
[[ -n $version ]] || { echo "$0: $binary --version printed no version" >&2; exit 1; }
name=${name:-localhost/sigstore-server:$version}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Debug info is most of a debug build's size and none of its behaviour.
strip --strip-debug -o "$work/sigstore-server" "$binary"

# The shared libraries and the loader it needs (fixtures/ldd-libs.sh).
# shellcheck source=fixtures/ldd-libs.sh
source "$here/fixtures/ldd-libs.sh"
ldd_libs "$work/sigstore-server"

tar=${rootfs:-$work/rootfs.tar}
PYTHONPATH="$here/fixtures${PYTHONPATH:+:$PYTHONPATH}" python3 - "$tar" "$work/sigstore-server" "${libs[@]}" <<'PY'
import os
import sys

from rootfs_tar import RootfsTar

out, binary, libs = sys.argv[1], sys.argv[2], sys.argv[3:]
t = RootfsTar()
t.copy("/usr/bin/sigstore-server", binary)
for lib in libs:
    t.copy(lib)
t.f("etc/passwd", 0o644, b"""root:x:0:0:root:/root:/bin/false
sigstore:x:65532:65532:sigstore-server:/var/lib/sigstore:/bin/false
""")
t.f("etc/group", 0o644, b"""root:x:0:
sigstore:x:65532:
""")
t.d("var/lib/sigstore", 0o755, owner=(65532, 65532))
t.d("tmp", 0o1777)
for p in ("proc", "sys", "dev"):
    t.d(p, 0o755)
n = t.write(out)
print("%s: %d entries, %d bytes (libraries: %s)"
      % (out, n, os.path.getsize(out), " ".join(libs) or "none"), file=sys.stderr)
PY

"${vouch[@]}" import \
    --change 'ENTRYPOINT ["/usr/bin/sigstore-server","--root","/var/lib/sigstore","--listen","0.0.0.0:8000"]' \
    --change 'USER 65532:65532' \
    --change 'EXPOSE 8000/tcp' \
    --change 'STOPSIGNAL SIGTERM' \
    --change 'LABEL org.opencontainers.image.title=sigstore-server' \
    --change "LABEL org.opencontainers.image.version=$version" \
    "$tar" "$name" >&2

if [[ -n $dest ]]; then
    "${vouch[@]}" push "${push_flags[@]}" --sign-by "$sign_by" "$name" "$dest" >&2
fi
echo "$name"
