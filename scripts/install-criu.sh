#!/usr/bin/env bash
# Makes a working CRIU available as `criu` on PATH.
#
# Debian 12's criu 3.17 fails on this kernel (vDSO) and 4.1 cannot dump a
# listening TCP socket here; Debian unstable's 4.2.1 works. When the
# distribution's criu fails `criu check`, this downloads criu 4.2.1 and the
# libraries it needs from Debian unstable (same mirror, separate apt lists so
# the system's are untouched), unpacks them into /opt/vouch-criu, and puts a
# wrapper in /usr/local/sbin that starts criu through that directory's own
# dynamic loader. Idempotent.
set -euo pipefail

PREFIX=/opt/vouch-criu
WRAPPER=/usr/local/sbin/criu
PKGS=(criu libcompel1 libc6 libgcc-s1 libbsd0 libmd0 libgnutls30t64 libhogweed6t64 libnettle8t64
  libgmp10 libidn2-0 libunistring5 libp11-kit0 libffi8 libtasn1-6 libnet9 libnftables1 libnftnl11
  libmnl0 libjansson4 libxtables12 libnl-3-200 libprotobuf-c1 libuuid1)

criu_ok() { "$1" check >/dev/null 2>&1; }

if [[ -x $WRAPPER ]] && criu_ok "$WRAPPER"; then
  exit 0
fi
if command -v criu >/dev/null && criu_ok "$(command -v criu)"; then
  exit 0
fi

# shellcheck source=unstable-debs.sh
source "$(dirname "$0")/unstable-debs.sh"
unstable_debs_into "$PREFIX" install-criu "${PKGS[@]}"

mkdir -p "$(dirname "$WRAPPER")"
cat >"$WRAPPER.tmp" <<SH
#!/bin/sh
# criu 4.2.1 from Debian unstable, run with its own loader and libraries
# (written by vouch scripts/install-criu.sh).
exec $PREFIX/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path $PREFIX/usr/lib/x86_64-linux-gnu $PREFIX/usr/sbin/criu "\$@"
SH
chmod 755 "$WRAPPER.tmp"
mv "$WRAPPER.tmp" "$WRAPPER"
if criu_ok "$WRAPPER"; then
  echo "install-criu: $($WRAPPER --version | head -n1): Looks good." >&2
else
  echo "install-criu: criu check still fails with $WRAPPER" >&2
  "$WRAPPER" check || true
  exit 1
fi
