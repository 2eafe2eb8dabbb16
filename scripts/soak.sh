#!/usr/bin/env bash
# Soak test: a steady load on /v1/signature for SOAK_SECONDS (default 300), loopback only,
# sampling the service's RSS every SAMPLE_SECONDS (default 10). Passes when, after the
# warm-up (WARMUP_SECONDS, default 60), RSS stays within 10% of its first post-warm-up
# sample, and wrk saw no socket error and no non-2xx answer.
#
#   scripts/soak.sh
#   SOAK_SECONDS=60 WARMUP_SECONDS=20 scripts/soak.sh
#
# Plain wrk cannot hold a fixed request rate (-R is wrk2's): the load is kept steady with a
# fixed, low connection and thread count (CONNECTIONS=16, WRK_THREADS=1). wrk runs in
# back-to-back segments of SAMPLE_SECONDS, so errors are counted per segment too.
set -euo pipefail

SOAK_SECONDS=${SOAK_SECONDS:-300}
WARMUP_SECONDS=${WARMUP_SECONDS:-60}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-10}
CONNECTIONS=${CONNECTIONS:-16}
WRK_THREADS=${WRK_THREADS:-1}
SERVICE_LOG=${SERVICE_LOG:-/dev/null}
(( WARMUP_SECONDS < SOAK_SECONDS )) || { echo "soak.sh: WARMUP_SECONDS must be below SOAK_SECONDS" >&2; exit 2; }

NAME=soak.sh
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vodsign-soak.XXXXXX")
# shellcheck source=scripts/common.sh
source "$ROOT/scripts/common.sh"
SERVER_PID=""
cleanup() {
    stop_process "$SERVER_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

need_wrk
pick_binary
PORT=$(free_port)
write_config "$PORT" "$(free_port)" soak
write_post_lua

"$BIN" serve --config "$WORK/config.toml" > >(cat >>"$SERVICE_LOG") 2>"$WORK/stderr.txt" &
SERVER_PID=$!
for _ in $(seq 500); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" == 200 ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "the service exited: $(cat "$WORK/stderr.txt")"
    sleep 0.02
done

rss() { awk '$1 == "VmRSS:" {print $2}' "/proc/$SERVER_PID/status"; }
echo "soak: ${SOAK_SECONDS}s on 127.0.0.1:$PORT, wrk -t$WRK_THREADS -c$CONNECTIONS, warm-up ${WARMUP_SECONDS}s, RSS every ${SAMPLE_SECONDS}s"
printf '%8s %10s %10s %8s\n' elapsed_s rss_kib req/s errors
elapsed=0
total_requests=0
total_errors=0
samples=()
while (( elapsed < SOAK_SECONDS )); do
    VODSIGN_LOAD_TOKEN=$API_KEY wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${SAMPLE_SECONDS}s" \
        -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/signature" >"$WORK/wrk.txt"
    elapsed=$(( elapsed + SAMPLE_SECONDS ))
    kill -0 "$SERVER_PID" 2>/dev/null || die "the service died at ${elapsed}s"
    requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
    rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' "$WORK/wrk.txt")
    socket=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$WORK/wrk.txt")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$WORK/wrk.txt")
    errors=$(( ${socket:-0} + ${non2xx:-0} ))
    total_requests=$(( total_requests + ${requests:-0} ))
    total_errors=$(( total_errors + errors ))
    now_rss=$(rss)
    (( elapsed > WARMUP_SECONDS )) && samples+=("$now_rss")
    printf '%8d %10d %10d %8d\n' "$elapsed" "$now_rss" "${rps:-0}" "$errors"
done

first=${samples[0]}
min=$(printf '%s\n' "${samples[@]}" | sort -n | head -n1)
max=$(printf '%s\n' "${samples[@]}" | sort -n | tail -n1)
spread=$(awk -v a="$min" -v b="$max" -v f="$first" 'BEGIN {printf "%.1f", (b - a) * 100 / f}')
flat=$(awk -v a="$min" -v b="$max" -v f="$first" 'BEGIN {print (b <= f * 1.10 && a >= f * 0.90) ? "yes" : "NO"}')
echo
echo "requests: $total_requests   errors: $total_errors   peak RSS (VmHWM): $(awk '$1 == "VmHWM:" {print $2}' "/proc/$SERVER_PID/status") KiB"
echo "RSS after warm-up: first $first KiB, min $min, max $max (spread ${spread}% of first); within 10%: $flat"
if [[ "$flat" == yes && "$total_errors" == 0 ]]; then
    echo "soak: PASS"
else
    echo "soak: FAIL"
    exit 1
fi
