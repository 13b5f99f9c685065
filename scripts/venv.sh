#!/usr/bin/env bash
# The project's Python venv (.venv): boto3, the AWS CLI v1 and pytest, pinned
# in tests/conformance/requirements.txt. The conformance tier uses it, and so
# do the end-to-end tests that run the printed operator commands with the
# real AWS CLI. Reinstalled only when the pins change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
requirements=tests/conformance/requirements.txt
venv=.venv
stamp="$venv/.conformance-requirements.sha256"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
fi
