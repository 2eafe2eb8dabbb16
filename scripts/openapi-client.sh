#!/usr/bin/env bash
# Generates a Python client from a running vodsign's /openapi.json (openapi-python-client)
# and calls the instance through it (scripts/openapi_client_check.py): the body-less POST,
# a POST with a body, the GET with query fields, a 403 and a 401, each parsed by the
# generated models. The instance must run config/development.toml. Exits non-zero on any
# failure, including a document the generator cannot turn into a working client.
#
#   scripts/openapi-client.sh http://127.0.0.1:8080
#
# scripts/schemathesis.sh runs it against the instance it starts.
set -euo pipefail

base_url="${1:?usage: scripts/openapi-client.sh BASE_URL}"
here="$(cd "$(dirname "$0")" && pwd)"

# pip installs console scripts here; a fresh pyenv may not have a shim for them yet.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"

if ! command -v openapi-python-client >/dev/null 2>&1; then
    echo "openapi-python-client not found; installing it with pip" >&2
    python3 -m pip install --quiet 'openapi-python-client>=0.29,<0.30'
fi

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

python3 - "$base_url/openapi.json" "$workdir/openapi.json" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as response, open(sys.argv[2], "wb") as out:
    out.write(response.read())
PY

# --fail-on-warning: an operation the generator had to skip is a failure, not a note.
openapi-python-client generate --path "$workdir/openapi.json" \
    --output-path "$workdir/vodsign_client" --meta none --fail-on-warning

PYTHONPATH="$workdir${PYTHONPATH:+:$PYTHONPATH}" \
    python3 "$here/openapi_client_check.py" "$base_url" vodsign_client
