#!/usr/bin/env bash
# The test command: formatting, lints, every Rust test tier (unit, workflow,
# emulator, end to end, fault injection), the SAM template and state machine
# checks, then the conformance tier (boto3 and the AWS CLI against the emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
# One build cache outside the clone, reused across clones and CI runs.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/efs-dr/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo build (binaries used by the end-to-end and conformance tiers)"
cargo build --workspace --bins --locked
step "template checks: cfn-lint (serverless rules), checkov, asl-validator (installs the npm tools the state machine tests use)"
scripts/template-checks.sh
step "python venv (the AWS CLI that runs the printed operator commands, boto3, pytest)"
scripts/venv.sh
step "cargo test"
cargo test --workspace --locked
step "cargo test, the workflow suites again under the unkind emulator profile (every behaviour AWS leaves open at its harder variant)"
EFS_DR_EMULATOR_PROFILE=unkind cargo test --locked -p efs-dr-shared \
  --test failover --test failback --test guardrails --test preserve --test unkind --test lag --test events \
  --test detection --test region_switch --test iac
step "fault-injection figures"
cat "$CARGO_TARGET_DIR/tmp/fault-matrix.txt"
step "region detection figures (emulated time)"
cat "$CARGO_TARGET_DIR/tmp/detection-true-failures.txt" \
    "$CARGO_TARGET_DIR/tmp/detection-notify.txt" \
    "$CARGO_TARGET_DIR/tmp/detection-false-alarms.txt"
step "conformance: boto3 and the AWS CLI against the emulator"
EFS_DR_EMULATOR_BIN="$CARGO_TARGET_DIR/debug/efs-dr-emulator" scripts/conformance.sh
