#!/usr/bin/env bash
# A project-local Python venv with pinned requirements, reinstalled only when
# the pins change:
#   scripts/venv.sh [VENV REQUIREMENTS]
# Without arguments: .venv with tests/conformance/requirements.txt (boto3,
# the AWS CLI v1, pytest), used by the conformance tier and by the
# end-to-end tests that run the printed operator commands with the real AWS
# CLI. scripts/template-checks.sh and scripts/sam-build.sh name their own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${1:-.venv}"
requirements="${2:-tests/conformance/requirements.txt}"
stamp="$venv/.requirements.sha256"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
fi
