#!/usr/bin/env bash
# The operator CLI as an SRE installs it: the README's own install command,
# into a scratch root. It must carry neither the emulator nor the test kit,
# and the core crate no AWS SDK or Lambda runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "check-install: $*" >&2; exit 1; }

install_line=$(grep -m1 '^cargo install ' README.md) || fail "README.md names no 'cargo install' command"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# --debug reuses the test build's cache; the dependency graph and features are the README's.
echo "+ $install_line --debug --root $root"
$install_line --debug --root "$root" --quiet
"$root/bin/efs-dr" --help >/dev/null || fail "the installed efs-dr does not run"
if "$root/bin/efs-dr" drill 2>"$root/drill.err"; then
  fail "the installed efs-dr ran a drill: the emulator is in it"
fi
grep -q -- '--features drill' "$root/drill.err" || fail "the installed efs-dr's drill refusal does not say how to run one: $(cat "$root/drill.err")"

tree=$(cargo tree --locked -p efs-dr -e normal --prefix none)
for banned in efs-dr-emulator efs-dr-testkit; do
  if grep -q "^$banned " <<<"$tree"; then fail "efs-dr depends on $banned"; fi
done
if [ -d core ]; then
  core=$(cargo tree --locked -p efs-dr-core -e normal --prefix none)
  for banned in aws-sdk- aws-smithy- aws-config lambda_runtime tokio; do
    if grep -q "^$banned" <<<"$core"; then fail "efs-dr-core depends on $banned"; fi
  done
fi
echo "check-install: efs-dr installs and runs; no emulator, no test kit$( [ -d core ] && echo '; the core crate has no SDK or runtime')"
