#!/usr/bin/env bash
# Makes a sigstore-enabled skopeo available as `skopeo-sigstore`, beside the
# system's skopeo.
#
# Debian 12's skopeo 1.9.3 is built with sigstore disabled ("Debian-local
# change: sigstore disabled"), so it cannot be the sigstore peer. Debian
# unstable's skopeo 1.22 can: this downloads it and the libraries it needs
# from Debian unstable (same mirror, separate apt lists so the system's are
# untouched), unpacks them into /opt/vouch-skopeo, and puts a wrapper in
# /usr/local/bin that starts it through that directory's own dynamic loader,
# as install-criu.sh does for CRIU. The system skopeo stays the GPG peer.
# Idempotent.
set -euo pipefail

PREFIX=/opt/vouch-skopeo
WRAPPER=/usr/local/bin/skopeo-sigstore
PKGS=(skopeo libc6 libgpgme45 libassuan9 libgpg-error0 libsqlite3-0 libseccomp2 libdevmapper1.02.1
  libgcc-s1 libselinux1 libpcre2-8-0 libudev1 libcap2)

skopeo_ok() { "$1" --version 2>/dev/null | grep -q 'skopeo version 1\.\(2[2-9]\|[3-9][0-9]\)'; }

if [[ -x $WRAPPER ]] && skopeo_ok "$WRAPPER"; then
  exit 0
fi

# shellcheck source=unstable-debs.sh
source "$(dirname "$0")/unstable-debs.sh"
unstable_debs_into "$PREFIX" install-skopeo-sigstore "${PKGS[@]}"

lib=$PREFIX/usr/lib/x86_64-linux-gnu
mkdir -p "$(dirname "$WRAPPER")"
cat >"$WRAPPER.tmp" <<SH
#!/bin/sh
# skopeo from Debian unstable (sigstore enabled), run with its own loader and
# libraries (written by vouch scripts/install-skopeo-sigstore.sh).
exec $lib/ld-linux-x86-64.so.2 --library-path $lib:$PREFIX/lib/x86_64-linux-gnu $PREFIX/usr/bin/skopeo "\$@"
SH
chmod 755 "$WRAPPER.tmp"
mv "$WRAPPER.tmp" "$WRAPPER"
if skopeo_ok "$WRAPPER"; then
  echo "install-skopeo-sigstore: $($WRAPPER --version): Looks good." >&2
else
  echo "install-skopeo-sigstore: $WRAPPER does not run" >&2
  "$WRAPPER" --version || true
  exit 1
fi
