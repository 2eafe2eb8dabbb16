# shellcheck shell=bash
# Sourced by scripts that check a running instance (check-metrics.sh, schemathesis.sh):
# starts vodsign with the development config on free loopback ports, its upload store in a
# scratch directory, and waits (at most 20 s) until it answers /healthz.
#
#   start_dev_instance BIN [NAME=VALUE ...]   # extra environment for the service
#
# Sets `port`, `admin_port`, `base` (http://127.0.0.1:PORT), `workdir` (removed at exit),
# `log` (the service's output) and `server` (its pid, stopped at exit). The development
# config's VOD credentials are placeholders; the caller's VODSIGN_SECRET_* are not passed on.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

stop_dev_instance() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$workdir"
}

start_dev_instance() {
    local bin=$1
    shift
    port="$(free_port)"
    admin_port="$(free_port)"
    base="http://127.0.0.1:$port"
    workdir="$(mktemp -d)"
    log="$workdir/vodsign.log"
    env -u VODSIGN_SECRET_ID -u VODSIGN_SECRET_KEY \
        VODSIGN_ADMIN__LISTEN="127.0.0.1:$admin_port" \
        VODSIGN_STORE_URL="sqlite://$workdir/uploads.sqlite3" \
        "$@" \
        "$bin" serve --config config/development.toml --listen "127.0.0.1:$port" >"$log" 2>&1 &
    server=$!
    trap stop_dev_instance EXIT
    local _
    for _ in $(seq 1 100); do
        if ! kill -0 "$server" 2>/dev/null; then
            echo "vodsign exited before serving:" >&2
            cat "$log" >&2
            exit 1
        fi
        curl -fsS -o /dev/null --max-time 1 "$base/healthz" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "vodsign did not answer /healthz within 20 s:" >&2
    tail -n 40 "$log" >&2
    exit 1
}
