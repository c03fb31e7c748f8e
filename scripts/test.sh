#!/usr/bin/env bash
# Sets up what the tests need and runs the whole test suite (what `.ci/run` calls).
#
# 1. Native tests (`cargo test`): the model, importer, engine, CLI and the parity tests. Built
#    once, optimised (`--release`): the model is too slow unoptimised. The parity tests read
#    ../shared/oracle when it exists and print "SKIPPED" otherwise.
# 2. Browser tests (tests/web/run.sh): scripts/setup-web.sh installs what is missing (wasm
#    target, Trunk, wasm-bindgen-cli, wasm-opt, Debian chromium, playwright-core; about 25
#    minutes the first time on two cores, seconds afterwards), Trunk builds the page and
#    headless chromium drives it. Skip them with CT_MASK_NET_WEB_TESTS=0.
#
# Build directories live outside the clone ($CARGO_TARGET_DIR, default
# ~/.cache/ct-mask-net/target and target-web) so that later runs reuse them. Arguments go to
# the native test binaries (e.g. a test name filter).
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust from https://rustup.rs (stable toolchain)" >&2
    exit 1
fi

CACHE_DIR="${CT_MASK_NET_CACHE:-$HOME/.cache/ct-mask-net}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
failed=()

echo "== native tests =="
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}" \
    cargo test --release --locked --all-targets -- --test-threads=2 "$@" || failed+=(native)

if [[ ${CT_MASK_NET_WEB_TESTS:-1} == 0 ]]; then
    echo "== browser tests: SKIPPED (CT_MASK_NET_WEB_TESTS=0) =="
else
    echo "== browser tests =="
    if ./scripts/setup-web.sh; then
        CARGO_TARGET_DIR="${CARGO_TARGET_DIR_WEB:-$CACHE_DIR/target-web}" ./tests/web/run.sh ||
            failed+=(browser)
    else
        echo "browser tests: the web tools could not be set up (see above)" >&2
        failed+=(browser-setup)
    fi
fi

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "test.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: all tests passed"
