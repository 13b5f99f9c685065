#!/usr/bin/env bash
# Benchmarks: cold start, memory, size, failover timing, fleet failover under
# throttling, and the seeds' Python Lambda for contrast. Writes bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/efs-dr/target}"
# Release builds of the four functions (the profile Lambda runs) and the bench driver.
cargo build --release --locked -p failover -p failback -p mount-target-ensure -p lag-alarm-handler -p efs-dr-harness
# The Python baseline: awslambdaric + boto3 in the project venv.
[[ -x .venv/bin/python ]] || python3 -m venv .venv
stamp=.venv/.bench-requirements.sha256
want="$(sha256sum bench/baseline/requirements.txt | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    .venv/bin/pip install --quiet --disable-pip-version-check -r bench/baseline/requirements.txt
    echo "$want" > "$stamp"
fi
"$CARGO_TARGET_DIR/release/efs-dr-bench" --out bench/out --bin-dir "$CARGO_TARGET_DIR/release" \
    --python "$PWD/.venv/bin/python" --baseline bench/baseline "$@"
