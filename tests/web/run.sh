#!/usr/bin/env bash
# End-to-end test of the web page: builds it with Trunk, serves dist/ on a free local port and
# drives headless Debian chromium through playwright-core (tests/web/e2e.mjs). Not part of
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

SERVER_LOG=$(mktemp)
python3 tests/web/serve.py dist >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -f "$SERVER_LOG"' EXIT
for _ in $(seq 50); do
    [[ -s "$SERVER_LOG" ]] && break
    sleep 0.1
done
PORT=$(head -n1 "$SERVER_LOG")
[[ $PORT =~ ^[0-9]+$ ]] || { echo "web test: server did not start: $(cat "$SERVER_LOG")" >&2; exit 1; }

echo "web test: serving dist/ on http://127.0.0.1:$PORT"
NODE_PATH="$CACHE_DIR/tools/node_modules" BASE_URL="http://127.0.0.1:$PORT" \
    node tests/web/e2e.cjs
