#!/usr/bin/env bash
# Builds the Debian package target/debian/vouch_<version>-1_<arch>.deb with
# cargo-deb ([package.metadata.deb] in Cargo.toml; docs/install.md):
#
#   scripts/package.sh                 # release build, xz-compressed
#   PROFILE=dev scripts/package.sh --fast
#
# Arguments go to `cargo deb`. scripts/setup.sh installs cargo-deb.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${PROFILE:-release}
command -v cargo-deb >/dev/null || {
    echo "package.sh: cargo-deb is missing (scripts/setup.sh installs it)" >&2
    exit 2
}

# Not PREFIX nor DESTDIR: sequoia-ipc compiles $PREFIX in (install.sh).
env -u PREFIX -u DESTDIR cargo build --profile "$PROFILE" -p vouch -p sigstore-server -p policy-lint --bins
# The monitor lives as long as its container: linked statically (glibc's
# static-pie), it maps no shared libc and stays under 2 MB resident
# (docs/runtime.md, "Monitor memory"). Cargo has no per-binary flag for
# that, so it is relinked on its own, last.
env -u PREFIX -u DESTDIR cargo rustc --profile "$PROFILE" -p vouch --bin vouch-monitor -- -C target-feature=+crt-static
# cargo-deb reads the staged data relative to the crate, whatever
# CARGO_TARGET_DIR says.
rm -rf target/deb-data
DESTDIR=target/deb-data PREFIX=/usr PROFILE=$PROFILE bash scripts/install.sh --no-build --data-only
cargo deb -p vouch --no-build --profile "$PROFILE" "$@"
