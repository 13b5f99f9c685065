#!/usr/bin/env bash
# Conformance tier: runs tests/conformance (boto3 and the AWS CLI v1 against
# efs-dr-emulator). The caller builds the emulator and passes its path:
#   EFS_DR_EMULATOR_BIN=target/debug/efs-dr-emulator scripts/conformance.sh [pytest args]
set -euo pipefail

if [[ -z "${EFS_DR_EMULATOR_BIN:-}" ]]; then
    echo "conformance.sh: set EFS_DR_EMULATOR_BIN to a built efs-dr-emulator binary" >&2
    exit 2
fi
# A relative path means relative to the caller's directory: pin it down
# before moving to the repo root.
case "$EFS_DR_EMULATOR_BIN" in
    /*) ;;
    *) EFS_DR_EMULATOR_BIN="$PWD/$EFS_DR_EMULATOR_BIN" ;;
esac
export EFS_DR_EMULATOR_BIN

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/venv.sh
venv=.venv

# No bytecode or pytest cache left in the work tree.
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest tests/conformance -q -p no:cacheprovider "$@"
