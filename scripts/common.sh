# shellcheck shell=bash
# Shared by scripts/load.sh and scripts/soak.sh (sourced, not run): the release binary, a
# free loopback port, a generated API key, config and VOD credentials, and wrk.
#
# The sourcing script sets NAME (for messages), ROOT (the checkout) and WORK (its
# temporary directory) first.

say() { printf '%s\n' "$*" >&2; }
die() { say "$NAME: $*"; exit 1; }

# wrk, installed with apt-get when missing.
need_wrk() {
    command -v wrk >/dev/null && return
    say "wrk is missing; installing it with apt-get"
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
        || die "cannot install wrk; install it and retry"
}

# Sets BIN: $VODSIGN_BIN, or a fresh release build of the checkout.
pick_binary() {
    if [[ -n "${VODSIGN_BIN:-}" ]]; then
        BIN=$VODSIGN_BIN
        # Ours, not the service's: builds before VODSIGN_<SECTION>__<KEY> read it as a setting.
        unset VODSIGN_BIN
    else
        say "building the release binary..."
        (cd "$ROOT" && cargo build --release --locked --quiet)
        BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/vodsign"
    fi
    [[ -x "$BIN" ]] || die "no binary at $BIN"
}

# A loopback port nobody listens on.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null && return
    local port
    for _ in $(seq 100); do
        port=$(( 20000 + RANDOM % 40000 ))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
    die "no free port found"
}

# Writes $WORK/config.toml: the service on 127.0.0.1:$1 with JSON logs, its metrics
# listener on 127.0.0.1:$2, and a new API key with id $3 for policy "default" (a 600 s
# signature, up to 3600 s). Sets API_KEY, and exports generated VOD credentials (never
# real ones).
write_config() {
    local port=$1 admin_port=$2 id=$3
    "$BIN" hash-key --id "$id" --subject "$id-user" --policy default >"$WORK/key.toml" 2>"$WORK/key.txt"
    API_KEY=$(grep -o "vsk_${id}_[A-Za-z0-9_-]*" "$WORK/key.txt" | head -n1)
    [[ -n "$API_KEY" ]] || die "hash-key printed no key"
    cat >"$WORK/config.toml" <<CONFIG
[server]
listen = "127.0.0.1:$port"
log_format = "json"
log_level = "info"
# The load generator is one address holding up to \$BIG_CONNECTIONS connections: the
# per-address limit would refuse most of them.
max_connections_per_address = 0

# The metrics listener on its own free port (the default one may be held by a twin
# instance or another vodsign on this machine), so the run includes its cost.
[admin]
listen = "127.0.0.1:$admin_port"

$(cat "$WORK/key.toml")

[policies.default]
validity_seconds = 600
max_validity_seconds = 3600
CONFIG
    VODSIGN_SECRET_ID="AKID$id$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    VODSIGN_SECRET_KEY="$id-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    export VODSIGN_SECRET_ID VODSIGN_SECRET_KEY
    unset VODSIGN_CONFIG
}

# $WORK/post.lua: POST /v1/signature with the bearer credential in VODSIGN_LOAD_TOKEN.
write_post_lua() {
    cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"validitySeconds":600}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("VODSIGN_LOAD_TOKEN")
LUA
}

# Stops process $1: TERM, up to 5 s for the drain, then KILL.
stop_process() {
    local pid=$1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
