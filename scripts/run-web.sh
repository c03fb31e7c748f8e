#!/usr/bin/env bash
# Builds the web page and serves it on http://127.0.0.1:8080 (the README's main command).
#
# 1. scripts/setup-web.sh installs the pinned tools (Trunk, wasm-bindgen-cli, wasm-opt) once;
#    later runs skip what is installed.
# 2. `trunk serve --release` builds www/index.html into dist/ (first build 10-25 minutes on two
#    cores; later ones 1-2 minutes) and serves it, rebuilding when sources change.
#
# Environment: PORT (default 8080), ADDRESS (default 127.0.0.1), CARGO_TARGET_DIR (default
# ~/.cache/ct-mask-net/target-web, outside the clone so rebuilds are incremental).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8080}"
ADDRESS="${ADDRESS:-127.0.0.1}"
CACHE_DIR="${CT_MASK_NET_CACHE:-$HOME/.cache/ct-mask-net}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target-web}"

./scripts/setup-web.sh
# shellcheck source=/dev/null
source "$CACHE_DIR/tools/env.sh"

echo "run-web: building (the first build takes 10-25 minutes) and serving on" \
    "http://$ADDRESS:$PORT"
exec trunk serve --release --address "$ADDRESS" --port "$PORT" --no-autoreload
