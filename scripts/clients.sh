#!/usr/bin/env bash
# The client kit's checks (docs/clients.md): Tencent's real upload SDKs against a running
# vodsign, with only Tencent's cloud faked.
#   - examples/clients/browser: vod-js-sdk-v6 in headless Chromium (playwright-core), the
#     page served on an origin the development config allows (localhost:3000, else :5173);
#   - examples/clients/browser/test/ticket.test.mjs: the upload-ticket client under Node (409,
#     410, 401, 429 handling) against a second vodsign whose tickets run out fast;
#   - examples/clients/wechat: vod-wx-sdk-v2 under Node with a small `wx` shim.
# vodsign runs the development config (upload tickets on, in an SQLite file of the run) on
# free loopback ports with generated VOD credentials and context key (never real ones); the
# tests verify every signature with that generated SecretKey, every ticket's context token
# with that context key.
#
#   scripts/clients.sh                                   # the current sources' debug binary
#   VODSIGN_BIN=target/release/vodsign scripts/clients.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$SECONDS
say() { printf 'clients: %s\n' "$*" >&2; }

apt_install() {
    say "installing $* with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
        --no-install-recommends "$@" >/dev/null
}
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
chromium_bin=${CHROMIUM:-$(command -v chromium || true)}
if [[ -z "$chromium_bin" ]]; then
    apt_install chromium
    chromium_bin=$(command -v chromium)
fi
say "tools ready after $((SECONDS - started)) s ($(node --version), $("$chromium_bin" --version 2>/dev/null | head -n1))"

bin="${VODSIGN_BIN:-}"
unset VODSIGN_BIN # ours, not a setting
if [[ -z "$bin" ]]; then
    # Always the current sources: a no-op when the debug binary is fresh.
    cargo build --locked --bin vodsign
    bin="${CARGO_TARGET_DIR:-target}/debug/vodsign"
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
work=$(mktemp -d)
servers=()
stop() {
    local pid
    for pid in "${servers[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap stop EXIT

# Generated for this run: the tests check the signatures' HMAC with this key, and the
# upload tickets' context tokens with the context key.
TEST_VOD_SECRET_ID="AKIDclients$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
TEST_VOD_SECRET_KEY="clients-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
TEST_CONTEXT_KEY="context-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
export TEST_VOD_SECRET_ID TEST_VOD_SECRET_KEY TEST_CONTEXT_KEY

# start NAME [VAR=VALUE...]: vodsign with the development config (upload tickets on, in an
# SQLite file of this run) and the given overrides, on free loopback ports; sets STARTED_URL.
start() {
    local name=$1 port admin_port
    shift
    port=$(free_port)
    admin_port=$(free_port)
    env -u VODSIGN_CONFIG \
        VODSIGN_SECRET_ID="$TEST_VOD_SECRET_ID" VODSIGN_SECRET_KEY="$TEST_VOD_SECRET_KEY" \
        VODSIGN_CONTEXT_KEY="$TEST_CONTEXT_KEY" \
        VODSIGN_SERVER__LISTEN="127.0.0.1:$port" VODSIGN_ADMIN__LISTEN="127.0.0.1:$admin_port" \
        VODSIGN_STORE_URL="sqlite://$work/$name.sqlite3" "$@" \
        "$bin" serve --config config/development.toml >"$work/$name.log" 2>&1 &
    local pid=$!
    servers+=("$pid")
    local url="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        if python3 -c "import urllib.request; urllib.request.urlopen('$url/readyz', timeout=1)" 2>/dev/null; then
            STARTED_URL=$url
            return 0
        fi
        sleep 0.2
    done
    say "vodsign ($name) did not become ready:"
    cat "$work/$name.log" >&2
    return 1
}

# The development config as it is: the examples' uploads, plain and with tickets.
start main
VODSIGN_URL=$STARTED_URL
# Tickets that run out fast (2 signatures each, 2 s of life) with a roomier rate, for the
# ticket clients' 409 and 410 handling.
start limits VODSIGN_UPLOADS__MAX_SIGNATURES=2 VODSIGN_UPLOADS__TTL_SECS=2 \
    'VODSIGN_POLICIES__DEFAULT__LIMITS={rate_per_minute = 600, burst = 20, quota = {max = 1000, per = "day"}}'
VODSIGN_TICKET_LIMITS_URL=$STARTED_URL
export VODSIGN_URL VODSIGN_TICKET_LIMITS_URL

status=0
run() { # DIR TIMEOUT COMMAND...: npm ci in DIR, then the test, bounded
    local dir=$1 limit=$2
    shift 2
    say "$dir: npm ci"
    # --ignore-scripts: the SDKs ship built bundles; no package needs to run code at install.
    (cd "$ROOT/$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || return 1
    say "$dir: $*"
    (cd "$ROOT/$dir" && timeout --kill-after=10 "$limit" "$@")
}

CHROMIUM="$chromium_bin" run examples/clients/browser 240 node test/browser.test.mjs || status=1
run examples/clients/browser 60 node test/ticket.test.mjs || status=1
run examples/clients/wechat 120 node test/wechat.test.mjs || status=1

if [[ $status -ne 0 ]]; then
    for log in "$work"/*.log; do
        say "failed; $(basename "$log") tail:"
        tail -n 20 "$log" >&2
    done
fi
say "done in $((SECONDS - started)) s"
exit "$status"
