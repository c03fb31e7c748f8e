#!/usr/bin/env bash
# End-to-end test of the web page: builds it with Trunk, then tests/web/e2e.cjs serves dist/ on
# a free local port and drives headless Debian chromium through playwright-core. Not part of
# `cargo test`. Exits non-zero on any failure.
#
# Options: --no-build (test the dist/ already built). Environment: CARGO_TARGET_DIR (default
# ~/.cache/ct-mask-net/target-web), SCREENSHOT (default /tmp/ct-mask-net-page.png).
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE_DIR="${CT_MASK_NET_CACHE:-$HOME/.cache/ct-mask-net}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target-web}"
if [[ ! -f "$CACHE_DIR/tools/env.sh" ]]; then
    echo "web tools missing: run scripts/setup-web.sh first" >&2
    exit 1
fi
# shellcheck source=/dev/null
source "$CACHE_DIR/tools/env.sh"

if [[ ${1:-} != "--no-build" ]]; then
    echo "web test: trunk build --release"
    trunk build --release
fi
[[ -f dist/index.html ]] || { echo "web test: dist/index.html missing" >&2; exit 1; }

echo "web test: driving headless chromium on dist/"
NODE_PATH="$CACHE_DIR/tools/node_modules" DIST="$PWD/dist" node tests/web/e2e.cjs
