#!/usr/bin/env bash
# Builds the four functions as Lambda receives them (arm64, zipped) with
# cargo-lambda and zig from PyPI, and prints each zip's size.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/efs-dr/target}"
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2 ziglang==0.14.1
export PATH="$PWD/.venv/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
cargo lambda build --release --arm64 --output-format zip \
    -p failover -p failback -p mount-target-ensure -p lag-alarm-handler
for f in failover failback mount-target-ensure lag-alarm-handler; do
    zip="$CARGO_TARGET_DIR/lambda/$f/bootstrap.zip"
    printf '%s\t%s bytes\n' "$f" "$(stat -c %s "$zip")"
done
