# shellcheck shell=bash
# shellcheck disable=SC2034  # UP_BASE, UPLOADS_NOTE, ... are read by scripts/load.sh
# The upload-ticket targets of scripts/load.sh (sourced, not run): POST /v1/uploads and
# POST /v1/uploads/{id}/signature, each on an SQLite store and on a PostgreSQL store.
#
# Each backend gets its own instance of the binary under test (same generated config,
# API key and production logging as the main instance), on the service's CPU, with:
#   - [uploads] enabled, max_signatures = 1000 (the most allowed) and a context key made
#     for the run (VODSIGN_CONTEXT_KEY, 32 random bytes, Base64);
#   - the default policy's limits set far above what the run can reach (rate 1,000,000/s,
#     quota 4,000,000,000 a day), and max_in_flight_per_principal 1,000,000, so no request
#     is refused for its rate, quota or concurrency, while every check still runs;
#   - the store's defaults otherwise (10 connections, 2 s timeout).
# SQLite: a fresh file in the run's temporary directory (WAL, synchronous=NORMAL: the
# store's own settings). PostgreSQL: a throwaway cluster (initdb, pg_ctl; as the postgres
# user when run as root) in its own temporary directory, on a free loopback port, on the
# service's CPU, with PostgreSQL's durable defaults (fsync and synchronous_commit on),
# stopped and removed when the script ends. Without PostgreSQL installed, or with
# UPLOAD_POSTGRES=0, its rows say "skipped".
#
# Re-signing needs uploads to sign: before the rounds, wrk creates uploads for
# PRECREATE_SECONDS on each backend and keeps their ids; the re-sign script sends them
# round robin (each upload may have 1,000 signatures; the run checks there are enough). On
# PostgreSQL the table is then analyzed (ANALYZE uploads), as autovacuum would be within a
# minute, so the rounds measure the steady state, not a table without statistics.
#
# Every upload target's wrk script counts answers other than the expected status (201 for
# a creation, 200 for a re-sign) and prints the first one; those count as errors, and a
# row with errors shows no ratio.
#
# Environment: UPLOADS=0 (no upload targets), UPLOAD_POSTGRES=0 (SQLite only),
# PRECREATE_SECONDS=2, PG_BIN=dir of initdb/pg_ctl (default: PATH, then the newest
# /usr/lib/postgresql/*/bin).

UPLOAD_TARGETS=()
UPLOADS_NOTE=""
UPLOADS_PG_NOTE=""
UP_SKIP=""
PG_URL=""
PG_PSQL=()
PG_DIR=""
PG_CTL=()
declare -A UP_BASE UP_PID UP_IDS

uploads_cleanup() {
    local backend
    for backend in "${!UP_PID[@]}"; do stop_process "${UP_PID[$backend]}"; done
    if [[ -n "$PG_DIR" ]]; then
        "${PG_CTL[@]}" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
        PG_DIR=""
    fi
}

# $WORK/uploads.lua: VODSIGN_LOAD_MODE "create" (POST /v1/uploads), "collect" (the same,
# appending each new upload's id to VODSIGN_LOAD_IDS) or "resign" (POST
# /v1/uploads/{id}/signature, the ids of VODSIGN_LOAD_IDS round robin); counts answers
# other than VODSIGN_LOAD_EXPECT.
write_uploads_lua() {
    cat >"$WORK/uploads.lua" <<'LUA'
local mode = os.getenv("VODSIGN_LOAD_MODE")
local expect = tonumber(os.getenv("VODSIGN_LOAD_EXPECT"))
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    unexpected = 0
    first = ""
    wrk.method = "POST"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("VODSIGN_LOAD_TOKEN")
    if mode == "resign" then
        requests = {}
        for id in io.lines(os.getenv("VODSIGN_LOAD_IDS")) do
            requests[#requests + 1] = wrk.format("POST", "/v1/uploads/" .. id .. "/signature")
        end
        -- Threads start at different ids.
        next_request = math.random(#requests)
    else
        wrk.headers["Content-Type"] = "application/json"
        wrk.body = '{"validitySeconds":600,"metadata":{"source":"load.sh"}}'
        if mode == "collect" then
            ids = io.open(os.getenv("VODSIGN_LOAD_IDS"), "a")
            ids:setvbuf("line")
        end
    end
end

if mode == "resign" then
    function request()
        next_request = next_request % #requests + 1
        return requests[next_request]
    end
end

function response(status, headers, body)
    if status ~= expect then
        unexpected = unexpected + 1
        if first == "" then first = status .. " " .. string.sub(body, 1, 160) end
    elseif mode == "collect" then
        local id = string.match(body, '"uploadId":"(upl_[%w_-]+)"')
        if id then ids:write(id, "\n") end
    end
end

function done(summary, latency, requests)
    local total, sample = 0, ""
    for _, thread in ipairs(threads) do
        total = total + thread:get("unexpected")
        if sample == "" then sample = thread:get("first") end
    end
    io.write(string.format("Unexpected statuses: %d\n", total))
    if total > 0 then io.write("First unexpected: ", sample, "\n") end
end
LUA
}

# The directory of initdb and pg_ctl, or nothing.
find_pg_bin() {
    if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
    local on_path
    on_path=$(command -v initdb 2>/dev/null) && { dirname "$(readlink -f "$on_path")"; return; }
    find /usr/lib/postgresql -maxdepth 3 -name initdb -path '*/bin/*' 2>/dev/null | sort -V | tail -n1 | xargs -r dirname
}

# Starts a throwaway PostgreSQL cluster on the service's CPU and sets PG_URL; or returns 1
# with the reason in UPLOADS_PG_NOTE.
start_postgres() {
    local bin port as_user=()
    bin=$(find_pg_bin)
    if [[ -z "$bin" || ! -x "$bin/pg_ctl" ]]; then
        UPLOADS_PG_NOTE="skipped: PostgreSQL not installed (apt-get install postgresql)"
        return 1
    fi
    if [[ $(id -u) == 0 ]]; then
        id postgres >/dev/null 2>&1 || { UPLOADS_PG_NOTE="skipped: no postgres user to run the server as"; return 1; }
        as_user=(runuser -u postgres --)
    fi
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vodsign-load-pg.XXXXXX")
    [[ ${#as_user[@]} == 0 ]] || chown postgres: "$PG_DIR"
    PG_CTL=("${as_user[@]}" "$bin/pg_ctl")
    port=$(free_port)
    "${as_user[@]}" "$bin/initdb" -A trust -U postgres -E UTF8 --no-sync -D "$PG_DIR/data" >"$WORK/initdb.txt" 2>&1 \
        || { UPLOADS_PG_NOTE="skipped: initdb failed: $(tail -n 2 "$WORK/initdb.txt" | tr '\n' ' ')"; return 1; }
    # PostgreSQL's durable defaults: fsync = on, synchronous_commit = on.
    "${ON_SERVICE_CPU[@]}" "${PG_CTL[@]}" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
        -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1" start >"$WORK/pg_ctl.txt" 2>&1 \
        || { UPLOADS_PG_NOTE="skipped: PostgreSQL did not start: $(tail -n 2 "$PG_DIR/log" 2>/dev/null | tr '\n' ' ')"; return 1; }
    PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
    PG_PSQL=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -q -At)
}

# Writes $WORK/config-uploads-$1.toml (store URL $2) from the main config without JWT, on
# new ports.
write_uploads_config() {
    local backend=$1 url=$2 port=$3
    config_on_new_ports "$WORK/config-nojwt.toml" "$WORK/config-uploads-$backend.toml" "$port"
    cat >>"$WORK/config-uploads-$backend.toml" <<EOF

[limits]
max_in_flight_per_principal = 1000000

[policies.default.limits]
rate_per_second = 1000000
burst = 1000000
quota = { max = 4000000000, per = "day" }

[store]
url = "$url"

[uploads]
enabled = true
max_signatures = 1000
EOF
}

# Starts instance $1 (sqlite or postgres) on store URL $2 and creates uploads to re-sign;
# or returns 1 with the reason in UP_SKIP.
start_uploads_instance() {
    local backend=$1 url=$2 port base pid count
    port=$(free_port)
    base="http://127.0.0.1:$port"
    write_uploads_config "$backend" "$url" "$port"
    if ! "$BIN" check-config --config "$WORK/config-uploads-$backend.toml" >"$WORK/uploads-check.txt" 2>&1; then
        UP_SKIP="skipped: this binary refuses the upload config ($(head -c 120 "$WORK/uploads-check.txt" | tr '\n' ' '))"
        return 1
    fi
    "${ON_SERVICE_CPU[@]}" "$BIN" serve --config "$WORK/config-uploads-$backend.toml" \
        > >(exec "${ON_SERVICE_CPU[@]}" cat >>"$SERVICE_LOG") 2>>"$WORK/stderr.txt" &
    pid=$!
    UP_PID[$backend]=$pid
    wait_ready "$base" /readyz "$pid" "$backend upload instance"
    UP_BASE[$backend]=$base
    check_status 201 -X POST -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' \
        -d '{"validitySeconds":600}' "$base/v1/uploads"
    UP_IDS[$backend]="$WORK/ids-$backend.txt"
    : >"${UP_IDS[$backend]}"
    VODSIGN_LOAD_TOKEN=$API_KEY VODSIGN_LOAD_MODE=collect VODSIGN_LOAD_EXPECT=201 VODSIGN_LOAD_IDS=${UP_IDS[$backend]} \
        "${ON_LOAD_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"${PRECREATE_SECONDS:-2}s" -s "$WORK/uploads.lua" "$base/v1/uploads" \
        >"$WORK/precreate-$backend.txt"
    count=$(wc -l <"${UP_IDS[$backend]}")
    # Statistics for the table just filled, as autovacuum takes them within about a minute:
    # before them, PostgreSQL plans the re-sign statements on an empty table's estimates and
    # serves a few hundred re-signs a second instead of thousands.
    if [[ $backend == postgres ]]; then
        "${PG_PSQL[@]}" -c 'ANALYZE uploads' >/dev/null || die "ANALYZE uploads failed"
    fi
    (( count >= 100 )) || die "only $count uploads created on $backend before the rounds: $(cat "$WORK/precreate-$backend.txt")"
    check_status 200 -X POST -H "Authorization: Bearer $API_KEY" "$base/v1/uploads/$(head -n1 "${UP_IDS[$backend]}")/signature"
    say "  $backend upload instance ready on $base; $count uploads to re-sign (up to $((count * 999)) re-signs)"
}

# Checks one request answers status $1 (curl arguments follow).
check_status() {
    local want=$1 code
    shift
    code=$(curl -s -o "$WORK/check.json" -w '%{http_code}' "$@")
    [[ "$code" == "$want" ]] || die "check failed ($code, expected $want): $(cat "$WORK/check.json")"
}

# Sets UPLOAD_TARGETS (and the notes) after starting what they need.
uploads_start() {
    if [[ "${UPLOADS:-1}" == 0 ]]; then
        UPLOADS_NOTE="skipped: UPLOADS=0"
        return
    fi
    write_uploads_lua
    VODSIGN_CONTEXT_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
    export VODSIGN_CONTEXT_KEY
    if ! start_uploads_instance sqlite "sqlite://$WORK/store/uploads.sqlite3"; then
        UPLOADS_NOTE=$UP_SKIP
        return
    fi
    UPLOAD_TARGETS+=(upload_sqlite resign_sqlite)
    if [[ "${UPLOAD_POSTGRES:-1}" == 0 ]]; then
        UPLOADS_PG_NOTE="skipped: UPLOAD_POSTGRES=0"
        return
    fi
    start_postgres || return 0
    if start_uploads_instance postgres "$PG_URL"; then
        UPLOAD_TARGETS+=(upload_pg resign_pg)
    else
        UPLOADS_PG_NOTE=$UP_SKIP
    fi
}
