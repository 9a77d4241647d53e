#!/usr/bin/env bash
# The whole test suite: set-up, formatting and lint gates, then every unit
# and end-to-end test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
