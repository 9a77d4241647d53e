#!/usr/bin/env bash
# The whole test suite: set-up, formatting and lint gates, then every unit
# and end-to-end test of the workspace, then the fuzz smoke.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace

# Fuzz smoke: every parser's cargo-fuzz target for 20 s from its seed corpus
# (nightly, built into fuzz/target); any crash fails the run.
rustfmt --edition 2021 --check fuzz/fuzz_targets/*.rs
bash scripts/fuzz.sh 20
