#!/usr/bin/env bash
# Instructions per call of one function of a bench, counted by callgrind: the figure that
# does not move with the machine's load (docs/performance.md).
#
#   scripts/callgrind.sh BENCH FILTER FUNCTION [SECONDS]
#   scripts/callgrind.sh log_line log_line/vodsign log_line::log_line
#   scripts/callgrind.sh request router/healthz/json_logs request::send
#
# Runs the bench binary (`cargo bench --bench BENCH --no-run`, or BENCH_BIN) under
# `valgrind --tool=callgrind` for SECONDS (default 2) of `--profile-time` on the benches
# matching FILTER, collecting only inside FUNCTION (a symbol name or glob, as callgrind's
# `--toggle-collect` takes it), and prints the instructions collected, the calls of
# FUNCTION and their quotient. FUNCTION must not be inlined (`#[inline(never)]`).
set -euo pipefail

if [[ $# -lt 3 ]]; then
    sed -n '2,13p' "$0" >&2
    exit 2
fi
bench=$1 filter=$2 function=$3 seconds=${4:-2}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

bin=${BENCH_BIN:-$(cargo bench --locked --bench "$bench" --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .executable != null and (.target.kind | index("bench"))) | .executable' |
    tail -n 1)}
[[ -x $bin ]] || { echo "no bench binary for $bench" >&2; exit 1; }

out=$(mktemp "${TMPDIR:-/tmp}/callgrind.XXXXXX")
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no \
    --toggle-collect="*$function*" --compress-strings=no --compress-pos=no \
    "$bin" --bench --profile-time "$seconds" "$filter" >/dev/null 2>&1

# The total of the collected events (inside FUNCTION and, for an async fn, its future's
# drop); the calls of FUNCTION are the `calls=` lines after a `cfn=` that starts with its
# name (`request::send` or `request::send::{{closure}}`, the future's poll), from callers
# outside it.
awk -v fn="$function" '
    /^summary:/ || /^totals:/ { total = $2 }
    /^fn=/ { inside = index($0, "fn=" fn) == 1 }
    /^cfn=/ { target = index($0, "cfn=" fn) == 1 }
    /^calls=/ { if (target && !inside) { split($1, c, "="); calls += c[2] } target = 0 }
    END {
        if (calls == 0) { print "no calls of " fn " were recorded" > "/dev/stderr"; exit 1 }
        printf "instructions %d, calls %d, per call %.0f\n", total, calls, total / calls
    }' "$out"
