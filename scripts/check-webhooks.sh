#!/usr/bin/env bash
# Checks vodsign's webhook messages with the Standard Webhooks specification's own Python
# library (the `standardwebhooks` package), not with vodsign's code: starts
# scripts/webhook_receiver.py on a loopback port, runs the ignored integration test
# `events::standard_webhooks` against it (the delivery worker signs and POSTs real
# messages), and fails unless every message the receiver got verified.
set -euo pipefail

cd "$(dirname "$0")/.."

if ! python3 -c 'import standardwebhooks' >/dev/null 2>&1; then
    echo "installing the standardwebhooks Python package" >&2
    python3 -m pip install -q standardwebhooks >/dev/null
fi

work="$(mktemp -d)"
receiver_pid=""
cleanup() {
    [[ -n "$receiver_pid" ]] && kill "$receiver_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The specification's example secret; the test signs with the same one.
WEBHOOK_SECRET='whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD' \
    python3 scripts/webhook_receiver.py "$work/port" "$work/log" &
receiver_pid=$!
for _ in $(seq 50); do
    [[ -s "$work/port" ]] && break
    sleep 0.1
done
[[ -s "$work/port" ]] || { echo "check-webhooks: the receiver did not start" >&2; exit 1; }

VODSIGN_TEST_STANDARD_WEBHOOKS_URL="http://127.0.0.1:$(cat "$work/port")/hook" \
    cargo test --locked --test integration -- --ignored --exact \
    events::standard_webhooks::the_standardwebhooks_library_verifies_every_message

touch "$work/log"
ok="$(grep -c '^ok ' "$work/log" || true)"
bad="$(grep -c '^bad ' "$work/log" || true)"
cat "$work/log"
if [[ "$ok" -lt 2 || "$bad" -ne 0 ]]; then
    echo "check-webhooks: $ok verified, $bad refused; expected at least 2 and none" >&2
    exit 1
fi
echo "check-webhooks: the standardwebhooks library verified all $ok messages"
