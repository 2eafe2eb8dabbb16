#!/usr/bin/env bash
# Relay soak: SOAK_EVENTS (default 10000) VOD events through the running relay to a flaky
# receiver, loopback only, bounded by SOAK_TIMEOUT seconds (default 900); stops by itself.
#
#   scripts/relay-soak.sh                      # debug build, 10,000 events
#   SOAK_EVENTS=500 scripts/relay-soak.sh      # the CI variant
#   SOAK_PROFILE=release scripts/relay-soak.sh
#
# Starts examples/fake_vod.rs with the events queued (each one distinct; none names a
# ticket, so each becomes one vod.unattributed message), examples/flaky_receiver.rs
# failing FLAKY_RATE (default 0.2) of the requests on purpose (500, 429 with Retry-After,
# 503, or no answer past the relay's timeout), and `vodsign serve` with the relay on an
# SQLite store. Waits until the receiver has answered 2xx for every event's message and the
# outbox is empty, then stops everything and reports: events in (confirmed to the fake),
# messages delivered, duplicates by webhook-id, lost, time taken, peak backlog, attempts
# by result. Fails when any event is lost, a signature does not verify, or time runs out.
set -euo pipefail

SOAK_EVENTS=${SOAK_EVENTS:-10000}
SOAK_TIMEOUT=${SOAK_TIMEOUT:-900}
SOAK_PROFILE=${SOAK_PROFILE:-debug}
export FLAKY_RATE=${FLAKY_RATE:-0.2}
export FLAKY_HANG_MS=${FLAKY_HANG_MS:-2000}

NAME=relay-soak.sh
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vodsign-relay-soak.XXXXXX")
# shellcheck source=scripts/common.sh
source "$ROOT/scripts/common.sh"
FAKE_PID="" RECEIVER_PID="" SERVER_PID=""
cleanup() {
    stop_process "$SERVER_PID"
    stop_process "$RECEIVER_PID"
    stop_process "$FAKE_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT

profile_flag=()
[[ "$SOAK_PROFILE" == release ]] && profile_flag=(--release)
say "building vodsign and the fakes ($SOAK_PROFILE)..."
(cd "$ROOT" && cargo build --locked --quiet "${profile_flag[@]}" --bin vodsign \
    --example fake_vod --example flaky_receiver)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/$SOAK_PROFILE"
BIN="$TARGET/vodsign"

# Waits for "listening URL" on the first line of file $1; prints URL.
listening() {
    for _ in $(seq 100); do
        if grep -q '^listening ' "$1" 2>/dev/null; then
            sed -n 's/^listening //p' "$1" | head -n1
            return
        fi
        sleep 0.1
    done
    die "no 'listening' line in $1: $(cat "$1" 2>/dev/null)"
}

port=$(free_port)
admin_port=$(free_port)
write_config "$port" "$admin_port" soak
context_key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
hook_secret="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"

FAKE_VOD_SECRET_ID=$VODSIGN_SECRET_ID FAKE_VOD_SECRET_KEY=$VODSIGN_SECRET_KEY \
    FAKE_VOD_EVENTS=$SOAK_EVENTS FAKE_VOD_HOLD_MS=1000 \
    "$TARGET/examples/fake_vod" >"$WORK/fake.out" 2>"$WORK/fake.err" &
FAKE_PID=$!
vod_url=$(listening "$WORK/fake.out")
HOOK_SECRET=$hook_secret "$TARGET/examples/flaky_receiver" >"$WORK/receiver.out" 2>&1 &
RECEIVER_PID=$!
receiver_url=$(listening "$WORK/receiver.out")

cat >>"$WORK/config.toml" <<CONFIG

[uploads]
enabled = true

[events]
enabled = true
api_endpoint = "$vod_url"
pull_timeout_ms = 5000

[webhooks]
timeout_ms = 1000
# Enough retries that no message is dead-lettered at this failure rate.
retry_schedule_secs = [1, 1, 2, 2, 5, 5, 10, 10, 30, 30]

[[webhooks.endpoints]]
name = "soak"
url = "$receiver_url/hook"
secret_env = "SOAK_HOOK_SECRET"
CONFIG

start=$(date +%s.%N)
VODSIGN_STORE_URL="sqlite://$WORK/vodsign.sqlite3" VODSIGN_CONTEXT_KEY=$context_key \
    SOAK_HOOK_SECRET=$hook_secret \
    "$BIN" serve --config "$WORK/config.toml" >"$WORK/vodsign.log" 2>&1 &
SERVER_PID=$!

metric() { # name [label filter] -> value or 0 (also before the first scrape answers)
    { curl -sf "http://127.0.0.1:$admin_port/metrics" 2>/dev/null || true; } \
        | awk -v n="$1" -v f="${2:-}" '$1 ~ "^"n"({|$)" && index($1, f) { s += $2 } END { print s + 0 }'
}
stat() {
    { curl -sf "$receiver_url/stats" || echo '{}'; } \
        | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', 0))"
}

peak=0
deadline=$(( $(date +%s) + SOAK_TIMEOUT ))
while :; do
    kill -0 "$SERVER_PID" 2>/dev/null || die "vodsign exited: $(tail -n 20 "$WORK/vodsign.log")"
    pending=$(metric vodsign_webhook_messages_pending)
    pending=${pending%.*}
    if (( pending > peak )); then peak=$pending; fi
    unique=$(stat unique)
    if (( unique >= SOAK_EVENTS )) && [[ "$(metric vodsign_events_confirmed_total)" == "$SOAK_EVENTS" ]]; then
        break
    fi
    if (( $(date +%s) >= deadline )); then
        say "$NAME: timed out with $unique of $SOAK_EVENTS delivered"
        break
    fi
    sleep 1
done
elapsed=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
# A last look for late duplicates.
sleep 2
pulled=$(metric vodsign_events_pulled_total)
confirmed=$(metric vodsign_events_confirmed_total)
deduplicated=$(metric vodsign_events_deduplicated_total)
attempts=$(curl -sf "http://127.0.0.1:$admin_port/metrics" | grep '^vodsign_webhook_attempts_total' \
    | sed -E 's/.*result="([a-z_]+)".* ([0-9.e+]+)$/\1=\2/' | tr '\n' ' ' || true)
# The relay's metrics, with every series present after a run, through promtool's lint.
scrape_lint="promtool not installed; skipped"
if command -v promtool >/dev/null; then
    curl -sf "http://127.0.0.1:$admin_port/metrics" >"$WORK/metrics.txt"
    if promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.txt" 2>&1; then
        scrape_lint="promtool check metrics: clean"
    else
        scrape_lint="promtool check metrics: $(cat "$WORK/promtool.txt")"
    fi
fi
delivered=$(stat delivered) unique=$(stat unique) duplicates=$(stat duplicates)
requests=$(stat requests) failed=$(stat failed_on_purpose) bad=$(stat bad_signatures)
stop_process "$SERVER_PID"; SERVER_PID=""
stop_process "$FAKE_PID"; FAKE_PID=""
sleep 0.2
fake_summary=$(grep 'stopping' "$WORK/fake.err" || true)
lost=$(( SOAK_EVENTS - unique ))

cat <<REPORT
relay soak: $SOAK_EVENTS events, FLAKY_RATE=$FLAKY_RATE, $SOAK_PROFILE build
  events in:            $SOAK_EVENTS queued; pulled $pulled, confirmed $confirmed, deduplicated $deduplicated
  fake VOD:             ${fake_summary#fake_vod: }
  receiver requests:    $requests ($failed failed on purpose, $bad bad signatures)
  messages delivered:   $delivered 2xx answers, $unique distinct webhook-ids
  duplicates (by id):   $duplicates
  lost:                 $lost
  time taken:           ${elapsed} s
  peak backlog:         $peak messages pending (sampled every 5 s)
  attempts by result:   $attempts
  metrics:              $scrape_lint
REPORT
(( lost == 0 )) || die "$lost events lost"
(( bad == 0 )) || die "$bad messages failed signature verification"
[[ "$scrape_lint" != "promtool check metrics: "* || "$scrape_lint" == *clean ]] \
    || die "the metrics do not pass promtool"
(( duplicates == 0 )) || say "$NAME: $duplicates messages arrived twice (at-least-once; same webhook-id)"
say "$NAME: passed"
