# Sourced by install-criu.sh and install-skopeo-sigstore.sh.
#
# unstable_debs_into PREFIX WHAT PKG...: downloads PKG... from Debian
# unstable (the system's own mirror, with separate apt lists so the system's
# are untouched) and unpacks them into PREFIX, replacing it in one rename.
# Both tools need a newer build than Debian 12 ships, run through the
# prefix's own dynamic loader.
unstable_debs_into() {
  local prefix=$1 what=$2
  shift 2
  local mirror work
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
  [[ -n $mirror ]] || mirror=$(awk '$1=="deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=http://deb.debian.org/debian

  work=$(mktemp -d /tmp/vouch-debs.XXXXXX)
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
  touch "$work/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror unstable main" >"$work/sid.list"
  local apto=(-o "Dir::Etc::SourceList=$work/sid.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::Status=$work/status"
    -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
  echo "$what: fetching from Debian unstable ($mirror)" >&2
  apt-get "${apto[@]}" -q update >/dev/null
  (cd "$work/debs" && apt-get "${apto[@]}" -q download "$@" >/dev/null)

  rm -rf "$prefix.new"
  mkdir -p "$prefix.new"
  local d
  for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$prefix.new"; done
  rm -rf "$prefix" "$work"
  mv "$prefix.new" "$prefix"
}
