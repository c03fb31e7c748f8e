#!/usr/bin/env bash
# Sets up what the tests need and runs the whole test suite (what `.ci/run` calls).
#
# - Rust: the stable toolchain from rustup (nothing else to install for the native tests).
# - Builds once, optimised (`--release`): the model is too slow unoptimised.
# - The build directory lives outside the clone ($CARGO_TARGET_DIR, default
#   ~/.cache/ct-mask-net/target) so that later runs reuse it.
# - Parity tests read ../shared/oracle when it exists and print "SKIPPED" otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust from https://rustup.rs (stable toolchain)" >&2
    exit 1
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ct-mask-net/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

cargo test --release --locked --all-targets -- --test-threads=2 "$@"
