#!/usr/bin/env bash
# The OpenAPI document against the service: starts vodsign with the development config on a
# free loopback port, then
#   1. validates its /openapi.json (openapi-spec-validator),
#   2. runs schemathesis against it with every check (settings in scripts/schemathesis.toml:
#      a schema-valid request must get 200, or 403 from the policy; any warning fails),
#   3. generates a Python client from it and calls the instance (scripts/openapi-client.sh).
# Exits non-zero on any failure.
#
# The demo policy's rate, quota and the per-address auth-failure limit are raised for the
# run (environment overrides), so every request reaches the code under test instead of a 429.
# The upload tickets the run makes go to an SQLite file in its scratch directory.
#
#   scripts/schemathesis.sh               # builds (debug) and tests the current sources
#   VODSIGN_BIN=target/release/vodsign scripts/schemathesis.sh   # a given binary
#   ST_MAX_EXAMPLES=200 scripts/schemathesis.sh   # more cases per operation (default 30)
set -euo pipefail

cd "$(dirname "$0")/.."

# pip installs console scripts here; a fresh pyenv may not have a shim for them yet.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"

# The demo key is public: it is documented in config/development.toml and the README.
DEMO_KEY="vsk_demo_public-development-key-not-a-secret"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-30}"

if ! command -v st >/dev/null 2>&1; then
    echo "schemathesis not found; installing it with pip" >&2
    python3 -m pip install --quiet 'schemathesis>=4.32,<5'
fi
if ! command -v openapi-spec-validator >/dev/null 2>&1; then
    echo "openapi-spec-validator not found; installing it with pip" >&2
    python3 -m pip install --quiet 'openapi-spec-validator>=0.7,<1'
fi
settings="$PWD/scripts/schemathesis.toml"

# Always the current sources: `cargo build` is a no-op when the debug binary is fresh.
bin="${VODSIGN_BIN:-}"
unset VODSIGN_BIN # older builds read every VODSIGN_* variable as a setting
if [[ -z "$bin" ]]; then
    cargo build --locked --bin vodsign
    bin="${CARGO_TARGET_DIR:-target}/debug/vodsign"
fi

# shellcheck source=scripts/dev-instance.sh
source scripts/dev-instance.sh
start_dev_instance "$bin" \
    VODSIGN_POLICIES__DEFAULT__LIMITS__RATE_PER_MINUTE=6000000 \
    VODSIGN_POLICIES__DEFAULT__LIMITS__BURST=100000 \
    VODSIGN_POLICIES__DEFAULT__LIMITS__QUOTA__MAX=10000000 \
    VODSIGN_LIMITS__AUTH_FAILURES__MAX=1000000

base_url="http://127.0.0.1:$port"
scripts_dir="$PWD/scripts"
status=0
# From the scratch directory, so schemathesis's cache and reports stay out of the repo.
cd "$workdir"
python3 - "$base_url/openapi.json" "$workdir/openapi.json" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as response, open(sys.argv[2], "wb") as out:
    out.write(response.read())
PY
openapi-spec-validator "$workdir/openapi.json" || status=$?

if [[ $status -eq 0 ]]; then
    st --config-file "$settings" run "$base_url/openapi.json" \
        --header "Authorization: Bearer $DEMO_KEY" \
        --checks all \
        --max-examples "$MAX_EXAMPLES" \
        --request-timeout 10 \
        --seed "${ST_SEED:-20240601}" \
        || status=$?
fi

if [[ $status -eq 0 ]]; then
    bash "$scripts_dir/openapi-client.sh" "$base_url" || status=$?
fi

if [[ $status -ne 0 ]]; then
    echo "OpenAPI checks failed (exit $status); server log tail:" >&2
    tail -n 40 "$log" >&2
fi
exit "$status"
