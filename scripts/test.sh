#!/usr/bin/env bash
# The test command (README "Run all the tests", and what .ci/run runs): builds the abort-profile
# examples the abort test runs (a `cargo build` inside `cargo test` would wait on its lock), then
# runs every test of the workspace. Extra arguments go to `cargo test` (e.g. `-- on_mio::`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile release-size -p lamina-examples --bin fail --bin std-fail
cargo build --profile release-size -p lamina-examples --features tokio --bin async-fail
LAMINA_ABORT_BINS="$PWD/target/release-size" cargo test --workspace --all-features "$@"
