#!/usr/bin/env bash
# Checks the tests' fake VOD API against Tencent's own client: starts the fake
# (examples/fake_vod.rs, the code of tests/support/fake_vod.rs) on a loopback port and calls
# PullEvents, ConfirmEvents, DescribeEventConfig, ModifyEventConfig and DescribeEventsState
# through tencentcloud-sdk-python-vod (scripts/check_fake_vod.py). Proves that the fake
# accepts Tencent's real TC3 signatures, refuses a wrong key, and answers in shapes Tencent's
# models parse. Generated credentials only. Exits non-zero on any failure.
#
#   scripts/check-fake-vod.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! python3 -c 'import tencentcloud.vod' 2>/dev/null; then
    echo "tencentcloud-sdk-python-vod not found; installing it with pip" >&2
    python3 -m pip install --quiet 'tencentcloud-sdk-python-vod>=3.0,<4'
fi

cargo build --locked --quiet --example fake_vod
fake="${CARGO_TARGET_DIR:-$root/target}/debug/examples/fake_vod"

work="$(mktemp -d)"
pid=""
cleanup() {
    if [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        cat "$work/err" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT

FAKE_VOD_SECRET_ID="AKIDcheck$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
FAKE_VOD_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
export FAKE_VOD_SECRET_ID FAKE_VOD_SECRET_KEY
export FAKE_VOD_SUB_APP_ID=1500000001 FAKE_VOD_EVENTS=20 FAKE_VOD_HOLD_MS=1000

"$fake" >"$work/out" 2>"$work/err" &
pid=$!
address=""
for _ in $(seq 100); do
    address="$(sed -n 's|^listening http://||p' "$work/out" 2>/dev/null || true)"
    [[ -n "$address" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; echo "check-fake-vod: the fake did not start" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$address" ]] || { echo "check-fake-vod: the fake printed no address" >&2; exit 1; }

python3 scripts/check_fake_vod.py "$address"
