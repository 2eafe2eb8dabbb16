#!/usr/bin/env bash
# Lints a real scrape of /metrics: starts vodsign with the development config on free
# loopback ports, makes a few requests (200, 401, 403 and 429, so the labelled series
# exist), scrapes the admin listener and runs `promtool check metrics` on what it got.
# Also fails when a metric that the dashboard and the alert rules read is missing.
# Exits non-zero on any problem.
#
#   scripts/check-metrics.sh                                   # builds (debug) and checks
#   VODSIGN_BIN=target/release/vodsign scripts/check-metrics.sh   # a given binary
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found; installing Debian's prometheus package" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

bin="${VODSIGN_BIN:-}"
unset VODSIGN_BIN # not a setting of the service
if [[ -z "$bin" ]]; then
    cargo build --locked --bin vodsign
    bin="${CARGO_TARGET_DIR:-target}/debug/vodsign"
fi

# shellcheck source=scripts/dev-instance.sh
source scripts/dev-instance.sh
start_dev_instance "$bin"

# The demo key is public: it is documented in config/development.toml and the README.
demo=(-H "Authorization: Bearer vsk_demo_public-development-key-not-a-secret")
status_of() { curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
seen=""
seen+=" $(status_of "${demo[@]}" "$base/v1/signature")"
seen+=" $(status_of "$base/v1/signature")"
seen+=" $(status_of "${demo[@]}" "$base/v1/signature?classId=9")"
# The development policy allows a burst of 10: the next ones are rate limited.
for _ in $(seq 1 12); do
    seen+=" $(status_of "${demo[@]}" "$base/v1/signature")"
done
for expected in 200 401 403 429; do
    [[ " $seen " == *" $expected "* ]] || {
        echo "expected a $expected among the answers, got:$seen" >&2
        exit 1
    }
done

scrape="$workdir/metrics.txt"
curl -fsS --max-time 5 "http://127.0.0.1:$admin_port/metrics" >"$scrape"

status=0
promtool check metrics <"$scrape" || status=$?

# The names the dashboard and the alert rules use.
for name in \
    vodsign_http_requests_total vodsign_http_request_duration_seconds_bucket \
    vodsign_http_requests_in_flight vodsign_connections_open vodsign_load_shed_total \
    vodsign_signatures_issued_total vodsign_signature_refusals_total vodsign_auth_total \
    vodsign_build_info process_resident_memory_bytes process_cpu_seconds_total \
    process_open_fds process_max_fds process_start_time_seconds; do
    grep -q "^${name}[{ ]" "$scrape" || { echo "missing from /metrics: $name" >&2; status=1; }
done
grep -q '^vodsign_signatures_issued_total{policy="default",caller="demo"}' "$scrape" || {
    echo "vodsign_signatures_issued_total has no caller=\"demo\" series" >&2
    status=1
}

if [[ $status -ne 0 ]]; then
    echo "the scrape of /metrics has problems; it was:" >&2
    cat "$scrape" >&2
    exit "$status"
fi
echo "check-metrics: promtool found no problem in $(grep -vc '^#' "$scrape") series"
