#!/usr/bin/env bash
# Load figures for vodsign, all on 127.0.0.1, bounded in time (about 1-3 minutes).
#
#   scripts/load.sh                      # defaults below
#   ROUNDS=5 ROUND_SECONDS=4 scripts/load.sh
#   BASELINE_REV=main scripts/load.sh    # this checkout against another revision, one run
#
# Builds the release binary and the floor (examples/floor.rs: a bare axum endpoint with a
# fixed JSON body), starts the service on a free loopback port with a generated config and
# API key (JSON logs at info, audit events to the log: the production log configuration),
# measures start-up-to-ready time, then with wrk, in one run and interleaved (ROUNDS rounds,
# each visiting every target in turn): the floor, /healthz, /v1/signature with an API key,
# and /v1/signature with one ES256 JWT (a verified-token cache hit after the first request)
# when the binary supports JWT configuration; /healthz and the API-key request on a twin
# instance logging at warn (no per-request line: the line's cost); with a baseline, the same
# routes on the baseline binary, at info and at warn; and the upload tickets (scripts/load-uploads.sh): POST /v1/uploads and
# POST /v1/uploads/{id}/signature on an SQLite store and on a throwaway PostgreSQL cluster
# (fsync on), each on its own instance of the binary under test. Each target's row gives its median req/s over the rounds and its ratio to
# the floor (the median of the per-round ratios).
#
# Pinned (the default on 2 or more cores): the service, the baseline, the floor and the
# reader of their log pipe run on CPU SERVICE_CPU (taskset), wrk and oha on LOAD_CPU, so the
# load generator never takes CPU from the service under test. PINNED=0 lets both float.
#
# wrk keeps every connection busy (closed loop), so its latency is mostly queueing at
# saturation; latency is therefore also measured open loop, with oha sending a fixed rate
# (fractions of the API-key maximum just measured) on the same 64 connections, corrected for
# coordinated omission, to the floor, /healthz and the API-key request. Then 1,000 open
# connections, and RSS (idle, at 1,000 connections, peak). Prints a summary table with each
# figure's target and verdict: /healthz >= 0.85 x the floor, the API key >= 0.70 x, the
# cached JWT >= 0.65 x, POST /v1/uploads on SQLite >= 0.30 x; open-loop p99 of the API-key
# request <= 1 ms at a quarter of its maximum rate and <= 2 ms at half.
#
# Environment:
#   ROUNDS=3 ROUND_SECONDS=5 CONNECTIONS=64 WRK_THREADS=1   interleaved rounds
#   PINNED=1 SERVICE_CPU=0 LOAD_CPU=1                       pinning (PINNED=0: none; the
#                                                           default is 0 on one core)
#   BIG_CONNECTIONS=1000 BIG_SECONDS=6                      the many-connections round
#   STARTS=5                                                start-ups timed (median kept)
#   SERVICE_LOG=/dev/null                                   where the service's stdout goes
#                                                           (through a pipe, as in a container)
#   VODSIGN_BIN=path                                        skip the build, use this binary
#   FLOOR_BIN=path                                          skip the floor's build
#                                                           (cargo build --release --example floor)
#   LOG_COMPARISON=1                                        also load a twin instance (and the
#                                                           baseline's) run with RUST_LOG=warn
#                                                           (no per-request log line), to show
#                                                           that line's cost; 0: no warn twins
#   LATENCY_FRACTIONS="0.25 0.5" LATENCY_SECONDS=5         open-loop rates, as fractions of the
#                                                           API-key req/s; needs oha (cargo
#                                                           install oha --locked), else the
#                                                           rows say "skipped"
#   BASELINE_BIN=path                                       also load this other binary's
#                                                           routes: before/after in one run
#   BASELINE_REV=rev                                        build BASELINE_BIN from this git
#                                                           revision (a temporary worktree under
#                                                           TMPDIR, removed afterwards)
#   BASELINE_TARGET_DIR=target/baseline                     that build's own target directory
#                                                           (kept, so a second build is quick)
#   UPLOADS=1 UPLOAD_POSTGRES=1 PRECREATE_SECONDS=2         the upload-ticket targets (0: none;
#   PG_BIN=dir                                              PostgreSQL's off: SQLite only); see
#                                                           scripts/load-uploads.sh
set -euo pipefail

ROUNDS=${ROUNDS:-3}
ROUND_SECONDS=${ROUND_SECONDS:-5}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-1}
BIG_CONNECTIONS=${BIG_CONNECTIONS:-1000}
BIG_SECONDS=${BIG_SECONDS:-6}
STARTS=${STARTS:-5}
SERVICE_LOG=${SERVICE_LOG:-/dev/null}
SERVICE_CPU=${SERVICE_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
if [[ -z "${PINNED:-}" ]]; then
    if (( $(nproc) >= 2 )) && command -v taskset >/dev/null; then PINNED=1; else PINNED=0; fi
fi

NAME=load.sh
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vodsign-load.XXXXXX")
# shellcheck source=scripts/common.sh
source "$ROOT/scripts/common.sh"
# shellcheck source=scripts/load-uploads.sh
source "$ROOT/scripts/load-uploads.sh"
SERVER_PID=""
# The twin instances (below) by name: their URL and pid.
declare -A TWIN_BASE=() TWIN_PID=()
FLOOR_PID=""
BASELINE_TREE=""
stop_server() { stop_process "$SERVER_PID"; SERVER_PID=""; }
remove_baseline_tree() {
    [[ -n "$BASELINE_TREE" ]] || return 0
    git -C "$ROOT" worktree remove --force "$BASELINE_TREE/tree" 2>/dev/null || true
    rm -rf "$BASELINE_TREE"
    BASELINE_TREE=""
}
cleanup() {
    stop_server
    for twin in "${!TWIN_PID[@]}"; do stop_process "${TWIN_PID[$twin]}"; done
    stop_process "$FLOOR_PID"
    uploads_cleanup
    remove_baseline_tree
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Command prefixes: the service side on SERVICE_CPU, the load generators on LOAD_CPU.
ON_SERVICE_CPU=()
ON_LOAD_CPU=()
if [[ "$PINNED" == 1 ]]; then
    command -v taskset >/dev/null || die "PINNED=1 needs taskset (util-linux)"
    (( SERVICE_CPU != LOAD_CPU )) || die "SERVICE_CPU and LOAD_CPU must differ"
    ON_SERVICE_CPU=(taskset -c "$SERVICE_CPU")
    ON_LOAD_CPU=(taskset -c "$LOAD_CPU")
    PIN_NOTE="pinned: service side on CPU $SERVICE_CPU, load generator on CPU $LOAD_CPU"
else
    PIN_NOTE="not pinned: service and load generator share the CPUs"
fi

# --- tools, binary, config ----------------------------------------------------------------
need_wrk
command -v curl >/dev/null || die "curl is needed"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) > BIG_CONNECTIONS + 100 )) || die "open-file limit $(ulimit -n) is too low for $BIG_CONNECTIONS connections"

# BASELINE_REV: that revision's release binary, built in a temporary worktree into its own
# target directory, copied into WORK; the worktree is removed at once.
if [[ -n "${BASELINE_REV:-}" && -z "${BASELINE_BIN:-}" ]]; then
    BASELINE_COMMIT=$(git -C "$ROOT" rev-parse --verify "$BASELINE_REV^{commit}") \
        || die "BASELINE_REV=$BASELINE_REV is not a commit"
    BASELINE_TREE=$(mktemp -d "${TMPDIR:-/tmp}/vodsign-baseline.XXXXXX")
    git -C "$ROOT" worktree add --detach --quiet "$BASELINE_TREE/tree" "$BASELINE_COMMIT" \
        || die "cannot check out $BASELINE_REV"
    BASELINE_TARGET_DIR=${BASELINE_TARGET_DIR:-$ROOT/target/baseline}
    say "building the baseline $BASELINE_REV (${BASELINE_COMMIT:0:10}) into $BASELINE_TARGET_DIR..."
    (cd "$BASELINE_TREE/tree" && CARGO_TARGET_DIR=$BASELINE_TARGET_DIR cargo build --release --locked --quiet --bin vodsign) \
        || die "the baseline $BASELINE_REV did not build"
    cp "$BASELINE_TARGET_DIR/release/vodsign" "$WORK/baseline-vodsign"
    BASELINE_BIN=$WORK/baseline-vodsign
    remove_baseline_tree
    BASELINE_LABEL="baseline $BASELINE_REV (${BASELINE_COMMIT:0:10})"
elif [[ -n "${BASELINE_BIN:-}" ]]; then
    BASELINE_LABEL="baseline $BASELINE_BIN"
fi
[[ -z "${BASELINE_BIN:-}" || -x "$BASELINE_BIN" ]] || die "no baseline binary at $BASELINE_BIN"

pick_binary
# The floor: a bare axum endpoint of this checkout's axum and tokio (examples/floor.rs). An
# example builds with the dev-dependencies' features, so its first build compiles the
# dependencies a second time; the service binary stays the plain release build.
if [[ -n "${FLOOR_BIN:-}" ]]; then
    FLOOR=$FLOOR_BIN
else
    say "building the floor (examples/floor.rs)..."
    (cd "$ROOT" && cargo build --release --locked --quiet --example floor)
    FLOOR="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/floor"
fi
[[ -x "$FLOOR" ]] || die "no floor binary at $FLOOR"
PORT=$(free_port)
ADMIN_PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
write_config "$PORT" "$ADMIN_PORT" load

# --- JWT hook ----------------------------------------------------------------------------
# When the binary accepts an [[auth.jwt]] table with a PEM public key, make an ES256 key
# pair and a token with openssl and load /v1/signature with it too.
JWT=""
JWT_NOTE=""
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# An ASN.1 INTEGER's hex as exactly 32 bytes: a leading sign byte dropped, leading zero
# bytes (which DER leaves out, about one signature in 128) put back. (`${h: -64}` alone
# would give an empty string for a shorter value.)
hex32() {
    local h=$1
    (( ${#h} > 64 )) && h=${h: -64}
    printf '%064s' "$h" | tr ' ' 0
}
make_es256_token() {
    openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/es256.key" 2>/dev/null
    openssl ec -in "$WORK/es256.key" -pubout -out "$WORK/es256.pub" 2>/dev/null
    local now header payload der r s
    now=$(date +%s)
    header=$(printf '{"alg":"ES256","typ":"JWT"}' | b64url)
    payload=$(printf '{"iss":"vodsign-load","aud":"vodsign","sub":"load-user","iat":%d,"nbf":%d,"exp":%d,"scope":"vod.upload"}' \
        "$now" "$now" $((now + 3600)) | b64url)
    printf '%s.%s' "$header" "$payload" >"$WORK/jwt.input"
    openssl dgst -sha256 -sign "$WORK/es256.key" -out "$WORK/jwt.der" "$WORK/jwt.input"
    # DER ECDSA-Sig-Value -> raw r||s (32 bytes each), as JWS wants.
    der=$(openssl asn1parse -inform DER -in "$WORK/jwt.der" | awk -F: '/INTEGER/ {print $NF}')
    r=$(sed -n 1p <<<"$der"); s=$(sed -n 2p <<<"$der")
    r=$(hex32 "$r"); s=$(hex32 "$s")
    JWT="$(cat "$WORK/jwt.input").$(printf '%s%s' "$r" "$s" | xxd -r -p | b64url)"
}
cp "$WORK/config.toml" "$WORK/config-nojwt.toml"
if command -v openssl >/dev/null && command -v xxd >/dev/null; then
    make_es256_token
    cp "$WORK/config.toml" "$WORK/config-jwt.toml"
    cat >>"$WORK/config-jwt.toml" <<EOF

[[auth.jwt]]
name = "load"
issuer = "vodsign-load"
audiences = ["vodsign"]
algorithms = ["ES256"]
public_key_file = "$WORK/es256.pub"
access = { default_policy = "default" }
EOF
    if "$BIN" check-config --config "$WORK/config-jwt.toml" >"$WORK/jwt-check.txt" 2>&1; then
        mv "$WORK/config-jwt.toml" "$WORK/config.toml"
    else
        JWT=""
        if grep -q 'unknown field.*auth' "$WORK/jwt-check.txt"; then
            JWT_NOTE="skipped: JWT not available (this binary has no [[auth.jwt]] config)"
        else
            JWT_NOTE="skipped: JWT not available ($(head -c 100 "$WORK/jwt-check.txt" | tr '\n' ' '))"
        fi
    fi
else
    JWT_NOTE="skipped: JWT not available (openssl or xxd missing)"
fi

# --- start-up ----------------------------------------------------------------------------
now_ns() { date +%s%N; }
# One HTTP GET over bash's /dev/tcp: no process spawn, so it can poll every millisecond.
http_status() {
    local line
    { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3
    IFS=' ' read -r -t 2 _ line _ <&3 || line=""
    exec 3<&- 3>&-
    printf '%s' "$line"
}
# Starts the service (SERVER_PID) and appends its spawn-to-ready milliseconds to STARTUP_MS.
start_server() {
    local t0 t1
    t0=$(now_ns)
    "${ON_SERVICE_CPU[@]}" "$BIN" serve --config "$WORK/config.toml" \
        > >(exec "${ON_SERVICE_CPU[@]}" cat >>"$SERVICE_LOG") 2>"$WORK/stderr.txt" &
    SERVER_PID=$!
    for _ in $(seq 5000); do
        [[ "$(http_status /readyz)" == 200 ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "the service exited: $(cat "$WORK/stderr.txt")"
        sleep 0.001
    done
    t1=$(now_ns)
    [[ "$(http_status /readyz)" == 200 ]] || die "the service did not become ready"
    STARTUP_MS+=($(( (t1 - t0) / 1000000 )))
}
STARTUP_MS=()
for i in $(seq "$STARTS"); do
    start_server
    if (( i < STARTS )); then stop_server; fi
done
STARTUP_MEDIAN=$(printf '%s\n' "${STARTUP_MS[@]}" | sort -n | sed -n "$(( (STARTS + 1) / 2 ))p")
say "start-up to ready (ms): ${STARTUP_MS[*]} (median $STARTUP_MEDIAN)"

# Waits until $1/$2 answers 200; $3 is the process, $4 its name for messages.
wait_ready() {
    for _ in $(seq 500); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "$1$2")" == 200 ]] && return
        kill -0 "$3" 2>/dev/null || die "the $4 exited: $(tail -n 3 "$WORK/stderr.txt")"
        sleep 0.01
    done
    die "the $4 did not become ready"
}
# A copy of config $1 (the service's, or the one without JWT) on free ports, as $2.
config_on_new_ports() {
    local port=$3
    sed -e "s/127.0.0.1:$PORT\"/127.0.0.1:$port\"/" -e "s/127.0.0.1:$ADMIN_PORT\"/127.0.0.1:$(free_port)\"/" \
        "$1" >"$2"
}

# The floor, on the service's CPU.
FLOOR_PORT=$(free_port)
FLOOR_BASE="http://127.0.0.1:$FLOOR_PORT"
"${ON_SERVICE_CPU[@]}" "$FLOOR" "127.0.0.1:$FLOOR_PORT" >/dev/null 2>>"$WORK/stderr.txt" &
FLOOR_PID=$!
wait_ready "$FLOOR_BASE" / "$FLOOR_PID" floor

# Twin instances, each on its own port and the service's CPU: this binary with
# RUST_LOG=warn (no per-request log line; LOG_COMPARISON=0 leaves it out), and with a
# baseline, BASELINE_BIN logging as usual (all routes, JWT when it takes this config's
# [[auth.jwt]] table) and BASELINE_BIN with RUST_LOG=warn.
TWIN_LABEL=""
BASELINE_JWT=""
# start_twin NAME BIN CONFIG [LOG_LEVEL]: starts the instance NAME and waits until ready.
start_twin() {
    local name=$1 bin=$2 config=$3 level=${4:-} port
    port=$(free_port)
    config_on_new_ports "$config" "$WORK/twin-$name.toml" "$port"
    TWIN_BASE[$name]="http://127.0.0.1:$port"
    if [[ -n "$level" ]]; then
        RUST_LOG=$level "${ON_SERVICE_CPU[@]}" "$bin" serve --config "$WORK/twin-$name.toml" \
            > >(exec "${ON_SERVICE_CPU[@]}" cat >>"$SERVICE_LOG") 2>>"$WORK/stderr.txt" &
    else
        "${ON_SERVICE_CPU[@]}" "$bin" serve --config "$WORK/twin-$name.toml" \
            > >(exec "${ON_SERVICE_CPU[@]}" cat >>"$SERVICE_LOG") 2>>"$WORK/stderr.txt" &
    fi
    TWIN_PID[$name]=$!
    wait_ready "${TWIN_BASE[$name]}" /readyz "${TWIN_PID[$name]}" "twin instance $name"
}
if [[ "${LOG_COMPARISON:-1}" == 1 ]]; then
    start_twin warn "$BIN" "$WORK/config.toml" warn
fi
if [[ -n "${BASELINE_BIN:-}" ]]; then
    # The first of these the baseline accepts: with JWT, then without; each as is, then
    # without max_connections_per_address (unknown to older builds; the twin's
    # $CONNECTIONS stay within the default per-address limit). Checked with --offline (no
    # probes of dependencies) where the baseline has that flag, else without it.
    TWIN_CONFIG=""
    for candidate in config config-nojwt; do
        cp "$WORK/$candidate.toml" "$WORK/base-$candidate.toml"
        sed '/^max_connections_per_address = /d' "$WORK/$candidate.toml" >"$WORK/base-$candidate-old.toml"
        for c in "$WORK/base-$candidate.toml" "$WORK/base-$candidate-old.toml"; do
            if "$BASELINE_BIN" check-config --offline --config "$c" >"$WORK/twin-check.txt" 2>&1 \
                || "$BASELINE_BIN" check-config --config "$c" >"$WORK/twin-check.txt" 2>&1; then
                TWIN_CONFIG=$c
                if [[ $candidate == config ]]; then BASELINE_JWT=$JWT; fi
                break 2
            fi
        done
    done
    [[ -n "$TWIN_CONFIG" ]] || die "the baseline refuses the generated config: $(head -c 200 "$WORK/twin-check.txt")"
    TWIN_LABEL="$BASELINE_LABEL"
    start_twin base "$BASELINE_BIN" "$TWIN_CONFIG"
    if [[ "${LOG_COMPARISON:-1}" == 1 ]]; then
        start_twin basewarn "$BASELINE_BIN" "$TWIN_CONFIG" warn
    fi
fi

# The upload-ticket instances (scripts/load-uploads.sh): SQLite, and PostgreSQL when installed.
say "starting the upload instances..."
uploads_start

rss_kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SERVER_PID/status"; }
sleep 1
IDLE_RSS=$(rss_kib VmRSS)

# --- wrk scripts -------------------------------------------------------------------------
write_post_lua

# Checks one request of each kind answers 200 before measuring it.
check_200() {
    local code
    code=$(curl -s -o "$WORK/check.json" -w '%{http_code}' "$@")
    [[ "$code" == 200 ]] || die "check failed ($code): $(cat "$WORK/check.json")"
}
check_200 "$BASE/healthz"
check_200 -X POST -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' \
    -d '{"validitySeconds":600}' "$BASE/v1/signature"
if [[ -n "$JWT" ]]; then
    check_200 -X POST -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
        -d '{"validitySeconds":600}' "$BASE/v1/signature"
fi
check_200 "$FLOOR_BASE/"
for twin in "${!TWIN_BASE[@]}"; do
    check_200 -X POST -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' \
        -d '{"validitySeconds":600}' "${TWIN_BASE[$twin]}/v1/signature"
done
if [[ -n "$BASELINE_JWT" ]]; then
    check_200 -X POST -H "Authorization: Bearer $BASELINE_JWT" -H 'Content-Type: application/json' \
        -d '{"validitySeconds":600}' "${TWIN_BASE[base]}/v1/signature"
fi

# wrk's latency in microseconds ("1.23ms" -> 1230).
to_us() { awk '{v=$1; u=1; if (v ~ /us$/) u=1; else if (v ~ /ms$/) u=1000; else if (v ~ /s$/) u=1000000; sub(/[a-z]+$/, "", v); printf "%d\n", v*u}'; }
# CPU time (user + system, all threads) the process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
# Runs wrk; prints "rps p50_us p99_us errors cpu_us_per_request" (errors: socket errors +
# non-2xx). The service's own CPU time per request does not depend on what else the
# machine runs, so it compares targets more steadily than req/s on a busy machine.
run_wrk() {
    local threads=$1 conns=$2 seconds=$3 target=$4 out rps p50 p99 errs non2xx pid=$SERVER_PID cpu0 cpu1 requests
    local url=$BASE token="" args=() mode="" expect="" ids="" unexpected backend
    out="$WORK/wrk.txt"
    case $target in
        floor) url=$FLOOR_BASE/; pid=$FLOOR_PID ;;
        healthz) url=$BASE/healthz ;;
        api_key) url=$BASE/v1/signature; token=$API_KEY ;;
        jwt) url=$BASE/v1/signature; token=$JWT ;;
        warn_healthz|base_healthz|basewarn_healthz)
            url=${TWIN_BASE[${target%_healthz}]}/healthz; pid=${TWIN_PID[${target%_healthz}]} ;;
        warn_api_key|base_api_key|basewarn_api_key)
            url=${TWIN_BASE[${target%_api_key}]}/v1/signature; token=$API_KEY; pid=${TWIN_PID[${target%_api_key}]} ;;
        base_jwt) url=${TWIN_BASE[base]}/v1/signature; token=$BASELINE_JWT; pid=${TWIN_PID[base]} ;;
        upload_*|resign_*)
            backend=${target#*_}; [[ $backend == pg ]] && backend=postgres
            url=${UP_BASE[$backend]}/v1/uploads; token=$API_KEY; pid=${UP_PID[$backend]}
            if [[ $target == upload_* ]]; then mode=create; expect=201; else mode=resign; expect=200; ids=${UP_IDS[$backend]}; fi
            ;;
        *) die "unknown target $target" ;;
    esac
    if [[ -n "$mode" ]]; then
        args=(-s "$WORK/uploads.lua")
    elif [[ -n "$token" ]]; then
        args=(-s "$WORK/post.lua")
    fi
    cpu0=$(cpu_ticks "$pid")
    VODSIGN_LOAD_TOKEN=$token VODSIGN_LOAD_MODE=$mode VODSIGN_LOAD_EXPECT=$expect VODSIGN_LOAD_IDS=$ids \
        "${ON_LOAD_CPU[@]}" wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency "${args[@]}" "$url" >"$out"
    rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' "$out")
    p50=$(awk '$1 == "50%" {print $2}' "$out" | to_us)
    p99=$(awk '$1 == "99%" {print $2}' "$out" | to_us)
    errs=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$out")
    # The upload targets' script counts every answer but the expected status (a 3xx too).
    unexpected=$(awk '/^Unexpected statuses:/ {print $3}' "$out")
    (( ${unexpected:-0} > ${non2xx:-0} )) && non2xx=$unexpected
    cpu1=$(cpu_ticks "$pid")
    requests=$(awk '/requests in/ {print $1}' "$out")
    echo "$rps $p50 $p99 $(( ${errs:-0} + ${non2xx:-0} )) $(( (cpu1 - cpu0) * TICK_US / (requests > 0 ? requests : 1) ))"
    cp "$out" "$WORK/last-$target.txt"
}

TARGETS=(floor healthz api_key)
[[ -n "$JWT" ]] && TARGETS+=(jwt)
[[ -n "${TWIN_BASE[warn]:-}" ]] && TARGETS+=(warn_healthz warn_api_key)
if [[ -n "${TWIN_BASE[base]:-}" ]]; then
    TARGETS+=(base_healthz base_api_key)
    [[ -n "$BASELINE_JWT" ]] && TARGETS+=(base_jwt)
fi
[[ -n "${TWIN_BASE[basewarn]:-}" ]] && TARGETS+=(basewarn_healthz basewarn_api_key)
TARGETS+=("${UPLOAD_TARGETS[@]}")
# What each target is, for the table.
declare -A LABEL=(
    [floor]="floor: bare axum, fixed JSON"
    [healthz]="GET /healthz"
    [api_key]="/v1/signature, API key"
    [jwt]="/v1/signature, ES256 JWT (cached)"
    [warn_healthz]="GET /healthz, logs at warn"
    [warn_api_key]="/v1/signature, API key, logs at warn"
    [base_healthz]="  GET /healthz"
    [base_api_key]="  /v1/signature, API key"
    [base_jwt]="  /v1/signature, ES256 JWT (cached)"
    [basewarn_healthz]="  GET /healthz, logs at warn"
    [basewarn_api_key]="  /v1/signature, API key, logs at warn"
    [upload_sqlite]="POST /v1/uploads, SQLite"
    [resign_sqlite]="POST /v1/uploads/{id}/signature, SQLite"
    [upload_pg]="POST /v1/uploads, PostgreSQL"
    [resign_pg]="POST /v1/uploads/{id}/signature, PostgreSQL"
)
declare -A RPS P50 P99 ERRS CPU
for t in "${TARGETS[@]}"; do RPS[$t]=""; P50[$t]=""; P99[$t]=""; ERRS[$t]=0; CPU[$t]=""; done
RATIO_API=""; FLOOR_JWT=""
say "interleaved: $ROUNDS rounds x ${TARGETS[*]}, ${ROUND_SECONDS}s each, -t$WRK_THREADS -c$CONNECTIONS; $PIN_NOTE"
for round in $(seq "$ROUNDS"); do
    # Alternate the order each round so neither target always runs first.
    order=("${TARGETS[@]}")
    if (( round % 2 == 0 )); then mapfile -t order < <(printf '%s\n' "${TARGETS[@]}" | tac); fi
    for t in "${order[@]}"; do
        read -r rps p50 p99 errs cpu < <(run_wrk "$WRK_THREADS" "$CONNECTIONS" "$ROUND_SECONDS" "$t")
        say "  round $round $t: $rps req/s, p50 ${p50}us, p99 ${p99}us, errors $errs, service CPU ${cpu}us/request"
        RPS[$t]+="$rps "; P50[$t]+="$p50 "; P99[$t]+="$p99 "; ERRS[$t]=$(( ERRS[$t] + errs )); CPU[$t]+="$cpu "
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
mean() { tr ' ' '\n' | grep -v '^$' | awk '{s+=$1} END {printf "%d", s/NR}'; }
# Ratio of target $1 to target $2 (default /healthz) per round (same round, side by side),
# then their median.
ratio_of() {
    paste -d' ' <(tr ' ' '\n' <<<"${RPS[$1]}" | grep -v '^$') <(tr ' ' '\n' <<<"${RPS[${2:-healthz}]}" | grep -v '^$') \
        | awk '{printf "%.3f\n", $1 / $2}' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}
# The lowest and highest per-round ratio of target $1 to target $2, "min-max".
ratio_range() {
    paste -d' ' <(tr ' ' '\n' <<<"${RPS[$1]}" | grep -v '^$') <(tr ' ' '\n' <<<"${RPS[$2]}" | grep -v '^$') \
        | awk '{printf "%.3f\n", $1 / $2}' | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}'
}
RATIO_API=$(ratio_of api_key)
# The issue's goals are ratios to the floor.
FLOOR_HZ=$(ratio_of healthz floor)
FLOOR_API=$(ratio_of api_key floor)
[[ -n "$JWT" ]] && FLOOR_JWT=$(ratio_of jwt floor)

# --- latency at fixed rates (open loop) --------------------------------------------------
LATENCY_FRACTIONS=${LATENCY_FRACTIONS:-0.25 0.5}
LATENCY_SECONDS=${LATENCY_SECONDS:-5}
API_RPS_MEAN=$(mean <<<"${RPS[api_key]}")
LATENCY_ROWS=()
# Runs oha at a fixed rate; prints "rate_achieved p50_us p99_us errors".
run_oha() {
    local rate=$1 target=$2 args=()
    case $target in
        api_key) args=(-m POST -T application/json -d '{"validitySeconds":600}' -H "Authorization: Bearer $API_KEY" "$BASE/v1/signature") ;;
        floor) args=("$FLOOR_BASE/") ;;
        *) args=("$BASE/healthz") ;;
    esac
    "${ON_LOAD_CPU[@]}" oha --no-tui --output-format json -z "${LATENCY_SECONDS}s" -c "$CONNECTIONS" -q "$rate" \
        --latency-correction "${args[@]}" >"$WORK/oha.json" 2>"$WORK/oha.err" || { echo "0 0 0 1"; return; }
    python3 - "$WORK/oha.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
# Requests still in flight when the run ends are aborted by oha itself: not errors.
errors = {k: v for k, v in d.get("errorDistribution", {}).items() if k != "aborted due to deadline"}
non_200 = sum(v for k, v in d["statusCodeDistribution"].items() if k != "200")
print(int(d["summary"]["requestsPerSec"]), int((p["p50"] or 0) * 1e6), int((p["p99"] or 0) * 1e6), non_200 + sum(errors.values()))
PY
}
if command -v oha >/dev/null && command -v python3 >/dev/null; then
    for fraction in $LATENCY_FRACTIONS; do
        rate=$(awk -v r="$API_RPS_MEAN" -v f="$fraction" 'BEGIN {printf "%d", r * f}')
        for t in floor healthz api_key; do
            read -r achieved p50 p99 errs < <(run_oha "$rate" "$t")
            say "  open loop $t at $rate req/s ($fraction of max): achieved $achieved, p50 ${p50}us, p99 ${p99}us, errors $errs"
            LATENCY_ROWS+=("$t|$fraction|$rate|$achieved|$p50|$p99|$errs")
        done
    done
else
    LATENCY_NOTE="skipped: oha not installed (cargo install oha --locked)"
    say "  open-loop latency $LATENCY_NOTE"
fi

# --- many connections ----------------------------------------------------------------------
say "$BIG_CONNECTIONS connections on /v1/signature for ${BIG_SECONDS}s..."
(
    peak=0
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        v=$(rss_kib VmRSS); (( v > peak )) && peak=$v && echo "$peak" >"$WORK/big-rss"
        sleep 0.2
    done
) &
SAMPLER=$!
read -r BIG_RPS _ BIG_P99 BIG_ERRS _ < <(run_wrk 2 "$BIG_CONNECTIONS" "$BIG_SECONDS" api_key)
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
BIG_RSS=$(cat "$WORK/big-rss" 2>/dev/null || echo 0)
BIG_DETAIL=$(grep -E 'Socket errors|Non-2xx' "$WORK/last-api_key.txt" | tr -s ' ' | tr '\n' ';' || true)
say "  $BIG_RPS req/s, p99 ${BIG_P99}us, errors $BIG_ERRS ${BIG_DETAIL}"
PEAK_RSS=$(rss_kib VmHWM)
SETTLED_RSS=$(sleep 2; rss_kib VmRSS)

# --- summary -------------------------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
verdict() { awk -v v="$1" -v lim="$2" -v dir="$3" 'BEGIN {ok = (dir == "max") ? (v <= lim) : (v >= lim); print ok ? "ok" : "MISSED"}'; }

HZ_RPS=$(mean <<<"${RPS[healthz]}"); API_RPS=$(mean <<<"${RPS[api_key]}")
API_P99=$(median <<<"${P99[api_key]}"); HZ_P99=$(median <<<"${P99[healthz]}")
{
    echo
    echo "vodsign load summary  $(date -u +%Y-%m-%dT%H:%MZ)  $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "load average before summary: $(cut -d' ' -f1-3 /proc/loadavg)   wrk -t$WRK_THREADS -c$CONNECTIONS, $ROUNDS x ${ROUND_SECONDS}s interleaved"
    echo "$PIN_NOTE"
    [[ -z "$TWIN_LABEL" ]] || echo "baseline: $TWIN_LABEL"
    echo
    # Every target: median req/s over the rounds; its ratio to the floor, the median of the
    # per-round ratios (the floor's own row is 1 by definition) and their lowest and highest;
    # median p50 and p99; the service's CPU per request; errors (socket errors and answers
    # other than the expected status) over all rounds. A row with errors is not a figure: its
    # ratio reads "errors".
    trow() { printf '%-44s %9s %8s %13s %9s %9s %9s %7s\n' "$@"; }
    trow "target" "req/s" "/ floor" "(min-max)" "p50" "p99" "CPU/req" "errors"
    trow "--------------------------------------------" "---------" "--------" "-------------" "---------" "---------" "---------" "-------"
    for t in "${TARGETS[@]}"; do
        if [[ $t == base_* && -z "${TWIN_SHOWN:-}" ]]; then
            echo "$TWIN_LABEL:"
            TWIN_SHOWN=1
        fi
        if [[ $t == upload_* && -z "${UPLOADS_SHOWN:-}" ]]; then
            echo "upload tickets (own instances, limits far above the load; CPU/req: vodsign's alone):"
            UPLOADS_SHOWN=1
        fi
        if [[ $t == floor ]]; then
            r="1"; range="-"
        elif (( ERRS[$t] > 0 )); then
            r="errors"; range="-"
        else
            r=$(ratio_of "$t" floor); range=$(ratio_range "$t" floor)
        fi
        trow "${LABEL[$t]}" "$(median <<<"${RPS[$t]}")" "$r" "$range" "$(median <<<"${P50[$t]}")us" \
            "$(median <<<"${P99[$t]}")us" "$(median <<<"${CPU[$t]}")us" "${ERRS[$t]}"
    done
    [[ -z "$UPLOADS_NOTE" ]] || echo "upload tickets: $UPLOADS_NOTE"
    [[ -z "$UPLOADS_PG_NOTE" || -n "$UPLOADS_NOTE" ]] || echo "upload tickets on PostgreSQL: $UPLOADS_PG_NOTE"
    echo
    printf '%-34s %-26s %-14s %s\n' "figure" "measured" "target" "verdict"
    printf '%-34s %-26s %-14s %s\n' "----------------------------------" "--------------------------" "--------------" "-------"
    row() { printf '%-34s %-26s %-14s %s\n' "$1" "$2" "$3" "$4"; }
    row "/healthz req/s (mean)" "$HZ_RPS" "floor" "-"
    row "/healthz p50 / p99" "$(median <<<"${P50[healthz]}")us / ${HZ_P99}us" "-" "-"
    row "/healthz service CPU/request" "$(median <<<"${CPU[healthz]}")us" "-" "-"
    row "api key req/s (mean)" "$API_RPS" "-" "-"
    row "api key service CPU/request" "$(median <<<"${CPU[api_key]}")us (healthz/this: $(awk -v a="$(median <<<"${CPU[healthz]}")" -v b="$(median <<<"${CPU[api_key]}")" 'BEGIN {printf "%.2f", a / b}'))" "-" "-"
    row "/healthz / floor (median/round)" "$FLOOR_HZ" ">= 0.85" "$(verdict "$FLOOR_HZ" 0.85 min)"
    row "api key / floor (median/round)" "$FLOOR_API" ">= 0.70" "$(verdict "$FLOOR_API" 0.70 min)"
    row "api key / healthz (median/round)" "$RATIO_API" "-" "-"
    row "api key p50 / p99 @${CONNECTIONS}c" "$(median <<<"${P50[api_key]}")us / ${API_P99}us" "-" "- (closed loop, saturated)"
    if (( ${#LATENCY_ROWS[@]} > 0 )); then
        for entry in "${LATENCY_ROWS[@]}"; do
            IFS='|' read -r t fraction rate achieved p50 p99 errs <<<"$entry"
            case $t in
                api_key)
                    # The goal: p99 <= 1 ms at a quarter of the maximum rate, <= 2 ms at half.
                    limit=$(awk -v f="$fraction" 'BEGIN {print (f <= 0.25) ? 1000 : 2000}')
                    row "  open loop ${rate}/s (${fraction} max)" "p50 ${p50}us / p99 ${p99}us, errors $errs" "p99 <= ${limit}us" "$(verdict "$p99" "$limit" max)" ;;
                floor) row "  the floor at the same rate" "p50 ${p50}us / p99 ${p99}us, errors $errs" "-" "-" ;;
                *) row "  /healthz at the same rate" "p50 ${p50}us / p99 ${p99}us, errors $errs" "-" "-" ;;
            esac
        done
    else
        row "  open loop" "$LATENCY_NOTE" "" ""
    fi
    if [[ -n "$JWT" ]]; then
        JWT_P99=$(median <<<"${P99[jwt]}")
        row "jwt ES256 req/s (mean)" "$(mean <<<"${RPS[jwt]}")" "-" "-"
        row "jwt service CPU/request" "$(median <<<"${CPU[jwt]}")us" "-" "-"
        row "jwt / floor (median/round)" "$FLOOR_JWT" ">= 0.65" "$(verdict "$FLOOR_JWT" 0.65 min)"
        row "jwt p50 / p99 @${CONNECTIONS}c" "$(median <<<"${P50[jwt]}")us / ${JWT_P99}us" "-" "- (closed loop, saturated)"
    else
        row "jwt ES256" "$JWT_NOTE" "" ""
    fi
    if [[ -n "${TWIN_BASE[warn]:-}" ]]; then
        row "logs at warn: /healthz / floor" "$(ratio_of warn_healthz floor)" "(compare)" "-"
        row "logs at warn: api key / floor" "$(ratio_of warn_api_key floor)" "(compare)" "-"
    fi
    if [[ -n "${RPS[upload_sqlite]:-}" ]]; then
        if (( ERRS[upload_sqlite] > 0 )); then
            row "POST /v1/uploads SQLite / floor" "errors" ">= 0.30" "MISSED"
        else
            FLOOR_UPLOAD=$(ratio_of upload_sqlite floor)
            row "POST /v1/uploads SQLite / floor" "$FLOOR_UPLOAD" ">= 0.30" "$(verdict "$FLOOR_UPLOAD" 0.30 min)"
        fi
    fi
    ALL_ERRS=0
    for t in "${TARGETS[@]}"; do ALL_ERRS=$(( ALL_ERRS + ERRS[$t] )); done
    row "errors in the rounds" "$ALL_ERRS" "0" "$(verdict "$ALL_ERRS" 0 max)"
    row "errors @${BIG_CONNECTIONS}c (api key)" "$BIG_ERRS ($BIG_RPS req/s, p99 ${BIG_P99}us)" "0" "$(verdict "$BIG_ERRS" 0 max)"
    row "RSS idle" "$(mib "$IDLE_RSS")" "<= 20 MiB" "$(verdict "$IDLE_RSS" 20480 max)"
    row "RSS @${BIG_CONNECTIONS}c (max VmRSS)" "$(mib "$BIG_RSS")" "<= 64 MiB" "$(verdict "$BIG_RSS" 65536 max)"
    row "RSS peak (VmHWM) / after" "$(mib "$PEAK_RSS") / $(mib "$SETTLED_RSS")" "<= 64 MiB" "$(verdict "$PEAK_RSS" 65536 max)"
    row "start-up to ready (median of $STARTS)" "${STARTUP_MEDIAN} ms (${STARTUP_MS[*]})" "<= 100 ms" "$(verdict "$STARTUP_MEDIAN" 100 max)"
}
