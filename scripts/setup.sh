#!/usr/bin/env bash
# Installs every system package vouch's demo, tests and benchmarks need, and
# the podman configuration this host requires. Idempotent: re-running it
# installs nothing new and rewrites nothing that is already right.
set -euo pipefail

PACKAGES=(
  # build: sequoia's crypto backends (bindgen), sequoia-gpg-agent (capnp)
  build-essential pkg-config libssl-dev libclang-dev clang nettle-dev capnproto
  # the Debian package: dpkg-shlibdeps computes its dependencies
  dpkg-dev
  # peers and real components used by tests
  docker-registry skopeo podman runc busybox-static gnupg apache2-utils
  # runtime networking
  nftables iproute2
  # checkpoint/restore (install-criu.sh replaces it when it fails `criu check`)
  criu
  # tools used by tests and benchmarks
  zstd curl python3 wrk hyperfine time git
  # setcap/getcap: tests plant file capabilities in hostile images
  libcap2-bin
  # bench/sigstore-server.sh compares against nginx serving the same files
  nginx
  # sigstore-server's socket-activation and unit tests: systemd-socket-activate, systemd-analyze
  systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# podman as a test peer: crun refuses this host's hybrid cgroups, and the
# default ulimits exceed the hard limits here.
conf=/etc/containers/containers.conf
want='# written by vouch scripts/setup.sh
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
'
if [[ ! -f $conf ]] || ! grep -q 'written by vouch' "$conf"; then
  mkdir -p /etc/containers
  printf '%s' "$want" >"$conf"
fi

# policy-lint's pre-commit test runs the real pre-commit, from PyPI.
if ! command -v pre-commit >/dev/null; then
  python3 -m pip install --quiet pre-commit
  if command -v pyenv >/dev/null; then pyenv rehash; fi
fi

command -v cargo >/dev/null || { echo "setup: cargo is required (rustup)" >&2; exit 1; }

# cargo-deb builds the Debian package (scripts/package.sh; tests/package.rs
# installs it). Compiling it takes a few minutes, once.
if ! command -v cargo-deb >/dev/null; then
  cargo install cargo-deb --locked
fi

# cargo-fuzz for scripts/fuzz.sh (the fuzz smoke of scripts/test.sh); the
# targets themselves need the nightly toolchain, which rustup provides.
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# CRIU for checkpoint/restore: Debian 12's criu fails on this kernel; this
# installs a working one when (and only when) `criu check` fails.
bash "$(dirname "$0")/install-criu.sh"

# skopeo with sigstore enabled, as `skopeo-sigstore`: the sigstore peer of the
# tests (Debian 12's skopeo has sigstore compiled out and stays the GPG peer).
bash "$(dirname "$0")/install-skopeo-sigstore.sh"

# sigstore-js, the independent verifier of the Sigstore bundles vouch
# writes (sign/tests/bundle_interop.rs), into tests/interop/sigstore-js.
bash "$(dirname "$0")/install-sigstore-js.sh"
