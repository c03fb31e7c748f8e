#!/usr/bin/env bash
# Installs the tools for the web build (Trunk + wasm-bindgen-cli + wasm-opt) and for the
# browser tests (Debian chromium + chromium-driver, npm playwright-core), without any
# download other than from the usual package registries (Rust crates, npm packages, Debian apt).
#
# Idempotent: every step checks the installed version first and skips when it matches, so a
# second run takes a few seconds. Pinned versions live in scripts/web-tools.lock; the
# wasm-bindgen-cli version is read from Cargo.lock so it follows wasm-bindgen bumps.
#
# Needs: rustup + cargo, Node >= 20 + npm, and apt/dpkg as root (or sudo) when the Debian
# packages are missing. Nothing is written inside the repository: npm tools, logs and the
# cargo-install build dir live under $CT_MASK_NET_CACHE (default ~/.cache/ct-mask-net);
# cargo binaries go to ~/.cargo/bin.
#
# After it finishes, put the tools on PATH with:
#   source ~/.cache/ct-mask-net/tools/env.sh
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
LOCK_FILE="$SCRIPT_DIR/web-tools.lock"
CACHE_DIR="${CT_MASK_NET_CACHE:-$HOME/.cache/ct-mask-net}"
TOOLS_DIR="$CACHE_DIR/tools"
LOG_DIR="$CACHE_DIR/logs"
INSTALL_TARGET="$CACHE_DIR/install-target"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
NPM_BIN="$TOOLS_DIR/node_modules/.bin"
WASM_TARGET=wasm32-unknown-unknown

say() { echo "setup-web: $*"; }
die() { echo "setup-web: FAILED: $*" >&2; exit 1; }

# Runs "$@" with its output in $LOG_DIR/<name>.log; on failure shows the log's tail.
run_logged() {
    local log="$LOG_DIR/$1.log"
    shift
    if ! "$@" >"$log" 2>&1; then
        echo "---- last 40 lines of $log ----" >&2
        tail -n 40 "$log" >&2 || true
        echo "---- end of $log ----" >&2
        return 1
    fi
}

# Prints the version of an npm package installed in the tools folder, or nothing.
npm_installed_version() {
    local pkg_json="$TOOLS_DIR/node_modules/$1/package.json"
    [[ -f "$pkg_json" ]] || return 0
    node -e 'process.stdout.write(String(require(process.argv[1]).version || ""))' "$pkg_json" \
        2>/dev/null || true
}

npm_install_pinned() { # <log name> <package@version>
    run_logged "$1" npm install --prefix "$TOOLS_DIR" --save-exact --no-audit --no-fund \
        --no-update-notifier --loglevel=error "$2"
}

# Runs a command as root (directly, or through sudo when available).
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

apt_is_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

START=$SECONDS
cd "$REPO_ROOT"
mkdir -p "$TOOLS_DIR" "$LOG_DIR" "$INSTALL_TARGET" || die "cannot create $CACHE_DIR"

# One run at a time (two concurrent cargo/npm installs into the same places would clash).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE_DIR/setup-web.lock"
    flock -n 9 || { say "another setup-web.sh is running; waiting for it"; flock 9; }
fi

# Cargo's and the npm tools' bin folders first, so the checks see what this script installs.
export PATH="$CARGO_BIN:$NPM_BIN:$PATH"

# ---- Prerequisites -------------------------------------------------------------------
[[ -f "$LOCK_FILE" ]] || die "missing $LOCK_FILE (pinned tool versions)"
# shellcheck source=web-tools.lock
source "$LOCK_FILE"
: "${TRUNK_VERSION:?not set in web-tools.lock}" "${BINARYEN_NPM_VERSION:?not set in web-tools.lock}"
: "${PLAYWRIGHT_CORE_VERSION:?not set in web-tools.lock}" "${APT_PACKAGES:?not set in web-tools.lock}"
BINARYEN_MAJOR=${BINARYEN_NPM_VERSION%%.*}

for tool in rustup cargo node npm; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not on PATH; install it first"
done
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[[ $NODE_MAJOR -ge 20 ]] || die "Node $(node --version) is too old; playwright-core needs Node >= 20"

[[ -f "$REPO_ROOT/Cargo.lock" ]] || die "no Cargo.lock in $REPO_ROOT (run 'cargo generate-lockfile')"
WB_VERSIONS=$(awk '
    /^\[\[package\]\]/ { in_wb = 0 }
    /^name = "wasm-bindgen"$/ { in_wb = 1; next }
    in_wb && /^version = / { gsub(/"/, "", $3); print $3; in_wb = 0 }
' "$REPO_ROOT/Cargo.lock" | sort -u)
[[ -n "$WB_VERSIONS" ]] || die "Cargo.lock has no 'wasm-bindgen' package; cannot pick a wasm-bindgen-cli version"
[[ $(wc -l <<<"$WB_VERSIONS") -eq 1 ]] ||
    die "Cargo.lock holds several wasm-bindgen versions ($(echo $WB_VERSIONS)); the CLI must match exactly one"
WASM_BINDGEN_VERSION=$WB_VERSIONS

# ---- 1. Rust target for wasm ----------------------------------------------------------
t=$SECONDS
if rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"; then
    say "[1/7] rust target $WASM_TARGET: already installed, skipped"
else
    run_logged rustup-target rustup target add "$WASM_TARGET" ||
        die "'rustup target add $WASM_TARGET' failed (log: $LOG_DIR/rustup-target.log)"
    say "[1/7] rust target $WASM_TARGET: installed ($((SECONDS - t))s)"
fi

# ---- 2. wasm-opt from npm binaryen -----------------------------------------------------
t=$SECONDS
if [[ ! -f "$TOOLS_DIR/package.json" ]]; then
    printf '{\n  "name": "ct-mask-net-web-tools",\n  "private": true\n}\n' >"$TOOLS_DIR/package.json"
fi
have=$(npm_installed_version binaryen)
if [[ $have == "$BINARYEN_NPM_VERSION" ]] &&
    "$NPM_BIN/wasm-opt" --version 2>/dev/null | grep -q "version $BINARYEN_MAJOR\b"; then
    say "[2/7] wasm-opt (npm binaryen@$BINARYEN_NPM_VERSION): already installed, skipped"
else
    npm_install_pinned npm-binaryen "binaryen@$BINARYEN_NPM_VERSION" ||
        die "npm could not install binaryen@$BINARYEN_NPM_VERSION (log: $LOG_DIR/npm-binaryen.log)"
    "$NPM_BIN/wasm-opt" --version 2>/dev/null | grep -q "version $BINARYEN_MAJOR\b" ||
        die "wasm-opt from binaryen@$BINARYEN_NPM_VERSION does not report version $BINARYEN_MAJOR"
    say "[2/7] wasm-opt (npm binaryen@$BINARYEN_NPM_VERSION): installed in $NPM_BIN ($((SECONDS - t))s)"
fi

# ---- 3. playwright-core from npm -------------------------------------------------------
t=$SECONDS
have=$(npm_installed_version playwright-core)
if [[ $have == "$PLAYWRIGHT_CORE_VERSION" ]]; then
    say "[3/7] playwright-core@$PLAYWRIGHT_CORE_VERSION: already installed, skipped"
else
    npm_install_pinned npm-playwright-core "playwright-core@$PLAYWRIGHT_CORE_VERSION" ||
        die "npm could not install playwright-core@$PLAYWRIGHT_CORE_VERSION (log: $LOG_DIR/npm-playwright-core.log)"
    say "[3/7] playwright-core@$PLAYWRIGHT_CORE_VERSION: installed in $TOOLS_DIR/node_modules ($((SECONDS - t))s)"
fi

# ---- 4. Debian chromium + chromium-driver ----------------------------------------------
t=$SECONDS
missing=()
for pkg in $APT_PACKAGES; do
    apt_is_installed "$pkg" || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    say "[4/7] apt $APT_PACKAGES: already installed, skipped"
else
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${missing[*]} by hand"
    as_root true 2>/dev/null || die "installing ${missing[*]} needs root (run as root or install sudo)"
    run_logged apt-update as_root env DEBIAN_FRONTEND=noninteractive apt-get update ||
        die "'apt-get update' failed (log: $LOG_DIR/apt-update.log)"
    run_logged apt-install as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" ||
        die "'apt-get install ${missing[*]}' failed (log: $LOG_DIR/apt-install.log)"
    say "[4/7] apt ${missing[*]}: installed ($((SECONDS - t))s)"
fi
command -v chromium >/dev/null 2>&1 || die "chromium is installed but not on PATH"

# ---- 5. wasm-bindgen-cli matching Cargo.lock -------------------------------------------
# Without --locked: its lock file asks for a dependency version the registry here lacks.
t=$SECONDS
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ $have == "$WASM_BINDGEN_VERSION" ]]; then
    say "[5/7] wasm-bindgen-cli $WASM_BINDGEN_VERSION (= Cargo.lock): already installed, skipped"
else
    say "[5/7] wasm-bindgen-cli: building $WASM_BINDGEN_VERSION (have '${have:-none}'), about 5 min on 2 cores..."
    run_logged cargo-install-wasm-bindgen-cli env CARGO_TARGET_DIR="$INSTALL_TARGET" \
        cargo install --force "wasm-bindgen-cli@$WASM_BINDGEN_VERSION" ||
        die "'cargo install wasm-bindgen-cli@$WASM_BINDGEN_VERSION' failed (log: $LOG_DIR/cargo-install-wasm-bindgen-cli.log)"
    have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
    [[ $have == "$WASM_BINDGEN_VERSION" ]] ||
        die "after install 'wasm-bindgen --version' reports '${have:-nothing}', not $WASM_BINDGEN_VERSION (PATH order?)"
    say "[5/7] wasm-bindgen-cli $WASM_BINDGEN_VERSION: installed in $CARGO_BIN ($((SECONDS - t))s)"
fi

# ---- 6. Trunk --------------------------------------------------------------------------
t=$SECONDS
have=$(trunk --version 2>/dev/null | awk '{print $2}' || true)
if [[ $have == "$TRUNK_VERSION" ]]; then
    say "[6/7] trunk $TRUNK_VERSION: already installed, skipped"
else
    say "[6/7] trunk: building $TRUNK_VERSION (have '${have:-none}'), about 15 min on 2 cores..."
    run_logged cargo-install-trunk env CARGO_TARGET_DIR="$INSTALL_TARGET" \
        cargo install --locked --force "trunk@$TRUNK_VERSION" ||
        die "'cargo install --locked trunk@$TRUNK_VERSION' failed (log: $LOG_DIR/cargo-install-trunk.log)"
    have=$(trunk --version 2>/dev/null | awk '{print $2}' || true)
    [[ $have == "$TRUNK_VERSION" ]] ||
        die "after install 'trunk --version' reports '${have:-nothing}', not $TRUNK_VERSION (PATH order?)"
    say "[6/7] trunk $TRUNK_VERSION: installed in $CARGO_BIN ($((SECONDS - t))s)"
fi

# ---- 7. PATH helper --------------------------------------------------------------------
ENV_FILE="$TOOLS_DIR/env.sh"
env_text="# Written by scripts/setup-web.sh: puts the web build tools on PATH.
export PATH=\"$CARGO_BIN:$NPM_BIN:\$PATH\""
if [[ -f "$ENV_FILE" && $(<"$ENV_FILE") == "$env_text" ]]; then
    say "[7/7] PATH helper $ENV_FILE: up to date, skipped"
else
    printf '%s\n' "$env_text" >"$ENV_FILE"
    say "[7/7] PATH helper $ENV_FILE: written"
fi

say "all web tools ready ($((SECONDS - START))s): trunk $TRUNK_VERSION, wasm-bindgen $WASM_BINDGEN_VERSION," \
    "wasm-opt $BINARYEN_MAJOR, playwright-core $PLAYWRIGHT_CORE_VERSION, $(chromium --version 2>/dev/null | head -n1)"
say "to use them: source $ENV_FILE   (or: export PATH=\"$CARGO_BIN:$NPM_BIN:\$PATH\")"
