#!/usr/bin/env bash
# `sam build` as a new user runs it from a fresh clone (docs/deploy.md), with
# aws-sam-cli, cargo-lambda and zig from PyPI in .venv-sam, then checks that
# each of the four functions is an arm64 `bootstrap` and prints its size.
# Cold, it compiles the AWS SDK crates for aarch64: about 13 minutes on
# 2 cores, so it is not part of the test command; its last output is kept
# in bench/out/sam-build.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-sam
scripts/venv.sh "$venv" deploy/requirements-sam.txt
export PATH="$PWD/$venv/bin:$PATH"
# As a new user: the build goes to the clone's own target/, not a shared cache.
unset CARGO_TARGET_DIR
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
export SAM_CLI_TELEMETRY=0
started=$(date +%s)
sam build --template-file template.yaml
elapsed=$(( $(date +%s) - started ))

status=0
for fn in FailoverFunction FailbackFunction MountTargetEnsureFunction LagAlarmHandlerFunction; do
    artifact=".aws-sam/build/$fn/bootstrap"
    if [[ ! -f "$artifact" ]]; then
        echo "MISSING $artifact" >&2; status=1; continue
    fi
    # ELF e_machine (offset 18, little endian): 183 is EM_AARCH64.
    machine=$(od -An -t u2 -j 18 -N 2 "$artifact" | tr -d ' ')
    if [[ "$machine" != 183 ]]; then
        echo "NOT ARM64 $artifact (e_machine $machine)" >&2; status=1; continue
    fi
    printf '%s\tarm64\t%s bytes\n' "$artifact" "$(stat -c %s "$artifact")"
done
echo "sam build: ${elapsed} s"
exit $status
