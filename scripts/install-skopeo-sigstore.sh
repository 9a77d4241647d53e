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

mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[[ -n $mirror ]] || mirror=$(awk '$1=="deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[[ -n $mirror ]] || mirror=http://deb.debian.org/debian

work=$(mktemp -d /tmp/vouch-skopeo.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
touch "$work/status"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror unstable main" >"$work/sid.list"
apto=(-o "Dir::Etc::SourceList=$work/sid.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::Status=$work/status"
  -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
echo "install-skopeo-sigstore: fetching skopeo from Debian unstable ($mirror)" >&2
apt-get "${apto[@]}" -q update >/dev/null
(cd "$work/debs" && apt-get "${apto[@]}" -q download "${PKGS[@]}" >/dev/null)

rm -rf "$PREFIX.new"
mkdir -p "$PREFIX.new"
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$PREFIX.new"; done
rm -rf "$PREFIX"
mv "$PREFIX.new" "$PREFIX"

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
