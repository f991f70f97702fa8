#!/usr/bin/env bash
# Installs checkov for tests/deploy/test_checkov.py into its own virtualenv, outside the
# repository. checkov pins old versions of boto3, packaging and networkx that conflict with
# the project's test dependencies (pytest needs packaging>=24), so it cannot share .venv.
# Idempotent: an existing install of the pinned version is reused.
#   bash tests/deploy/setup_checkov.sh      # prints the checkov path on its last line
set -euo pipefail
VERSION="3.3.30"
VENV="${CTRULES_CHECKOV_VENV:-$HOME/.cache/ctrules/checkov-venv}"
if [ -x "$VENV/bin/checkov" ] && [ "$("$VENV/bin/checkov" --version 2>/dev/null)" = "$VERSION" ]; then
    echo "$VENV/bin/checkov"
    exit 0
fi
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$VERSION"
"$VENV/bin/checkov" --version >/dev/null
echo "$VENV/bin/checkov"
