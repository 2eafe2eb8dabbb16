#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), one after another, on the stable
# toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz use its nightly-only flags).
#
#   scripts/fuzz.sh            # 30 s per target
#   scripts/fuzz.sh 180        # 3 min per target
#   TARGETS="config_parse" scripts/fuzz.sh 60
#
# Seeds come from fuzz/seeds/TARGET; the growing corpus lives in fuzz/corpus/TARGET and
# crashes in fuzz/artifacts/TARGET (both ignored by git). Prints one line per target with
# its executions and whether it crashed; exits 1 if any target crashed.
#
# When cargo-fuzz is missing or cannot be installed, it says so and runs the proptest
# fallback (tests/fuzz_fallback.rs) instead, which drives the same entry points; so does a
# target that does not build, except under CI (CI=true), where that is a failure.
set -euo pipefail

SECONDS_PER_TARGET=${1:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ALL_TARGETS="signature_decode request_parse bearer_header config_parse"
TARGETS=${TARGETS:-$ALL_TARGETS}
JOBS_LOG=$(mktemp -d "${TMPDIR:-/tmp}/vodsign-fuzz.XXXXXX")
trap 'rm -rf "$JOBS_LOG"' EXIT

fallback() {
    echo "fuzz.sh: $1; running the proptest fallback instead (tests/fuzz_fallback.rs)" >&2
    cargo test --locked --test fuzz_fallback
    exit 0
}

if ! command -v cargo-fuzz >/dev/null; then
    if [[ "${INSTALL_CARGO_FUZZ:-1}" == 1 ]]; then
        echo "fuzz.sh: installing cargo-fuzz (about 2 minutes)..." >&2
        cargo install cargo-fuzz --locked >/dev/null 2>&1 || fallback "cannot install cargo-fuzz"
    else
        fallback "cargo-fuzz is not installed"
    fi
fi

export RUSTC_BOOTSTRAP=1
for target in $TARGETS; do
    if ! cargo fuzz build -O "$target" >"$JOBS_LOG/build-$target.txt" 2>&1; then
        tail -n 20 "$JOBS_LOG/build-$target.txt" >&2
        # cargo-fuzz is there, so a failed build is a broken target: under CI that fails the
        # run instead of quietly becoming the fallback.
        if [[ "${CI:-}" == true ]]; then
            echo "fuzz.sh: cargo fuzz build $target failed" >&2
            exit 1
        fi
        fallback "cargo fuzz build $target failed"
    fi
done

status=0
printf '%-18s %8s %14s %10s %s\n' target seconds executions exec/s result
for target in $TARGETS; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    [[ -d "fuzz/seeds/$target" ]] && cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
    log="$JOBS_LOG/run-$target.txt"
    if cargo fuzz run -O "$target" "$corpus" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        result="no crash"
    else
        result="CRASH: see fuzz/artifacts/$target (log: $(cp "$log" "fuzz/artifacts/$target/last-run.txt"; echo "fuzz/artifacts/$target/last-run.txt"))"
        status=1
    fi
    execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log" | tail -n1)
    rate=$(awk '/stat::average_exec_per_sec:/ {print $2}' "$log" | tail -n1)
    printf '%-18s %8s %14s %10s %s\n' "$target" "$SECONDS_PER_TARGET" "${execs:-?}" "${rate:-?}" "$result"
done
exit "$status"
