#!/usr/bin/env bash
# The test command: formatting, lints, every Rust test tier (unit, workflow,
# emulator, end to end, fault injection), the SAM template and state machine
# checks, then the conformance tier (boto3 and the AWS CLI against the emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
# The same build cache as the README's drill (./target) unless CARGO_TARGET_DIR
# says otherwise; CI points it outside the clone so that clones share it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "the project layout in docs/design.md against the tree"
python3 scripts/check-layout.py
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo build (every target at once: the binaries the end-to-end and conformance tiers run, with the same features as the tests, so nothing compiles twice)"
cargo build --workspace --all-targets --locked
step "template checks: cfn-lint (serverless rules), checkov, asl-validator (installs the npm tools the state machine tests use)"
scripts/template-checks.sh
step "python venv (the AWS CLI that runs the printed operator commands, boto3, pytest)"
scripts/venv.sh
step "cargo test"
cargo test --workspace --locked
step "cargo test, the workflow suites again under the unkind emulator profile (every behaviour AWS leaves open at its harder variant)"
# Through the workspace build, so that no crate is compiled again for other features.
EFS_DR_EMULATOR_PROFILE=unkind cargo test --workspace --locked --test workflows -- \
  failover:: failback:: guardrails:: preserve:: unkind:: lag:: events:: \
  detection:: composite:: region_switch:: iac:: cross_account::
step "the operator CLI installs as the README says, without the emulator or the test kit"
scripts/check-install.sh
step "fault-injection figures"
cat "$CARGO_TARGET_DIR/tmp/fault-matrix.txt"
step "region detection figures (emulated time, unkind profile: the run that wrote them last)"
cat "$CARGO_TARGET_DIR/tmp/detection-true-failures.txt" \
    "$CARGO_TARGET_DIR/tmp/detection-20-pairs.txt" \
    "$CARGO_TARGET_DIR/tmp/detection-500-pairs.txt" \
    "$CARGO_TARGET_DIR/tmp/detection-notify.txt" \
    "$CARGO_TARGET_DIR/tmp/detection-false-alarms.txt"
step "conformance: boto3 and the AWS CLI against the emulator"
EFS_DR_EMULATOR_BIN="$CARGO_TARGET_DIR/debug/efs-dr-emulator" scripts/conformance.sh
