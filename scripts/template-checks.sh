#!/usr/bin/env bash
# Deployment artifact checks, offline: the SAM template (cfn-lint with the
# serverless rules, the CloudFormation that SAM generates from it, checkov)
# and the state machine definitions (asl-validator). Every check must be
# clean; the script runs them all, prints one line per check, and exits
# non-zero if any failed.
#
# Tools: Python ones in .venv-template (pinned in tests/template/
# requirements.txt; a venv of their own because checkov's exact boto3 pin
# would break the conformance tier's awscli in .venv), Node ones in
# node_modules (package-lock.json). Each is reinstalled only when its pins
# change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=.venv-template
scripts/venv.sh "$venv" tests/template/requirements.txt

npm_stamp=node_modules/.package-lock.sha256
npm_want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -d node_modules || "$(cat "$npm_stamp" 2>/dev/null || true)" != "$npm_want" ]]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$npm_want" > "$npm_stamp"
fi

export PYTHONDONTWRITEBYTECODE=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

failed=()
# run NAME COMMAND...: the command's output, then one PASS/FAIL line.
run() {
    local name="$1"
    shift
    printf '\n==> %s\n' "$name"
    if "$@"; then
        printf 'PASS  %s\n' "$name"
    else
        printf 'FAIL  %s\n' "$name"
        failed+=("$name")
    fi
}

cfn_lint_sam() {
    "$venv/bin/cfn-lint" template.yaml -a cfn_lint_serverless.rules
}

cfn_lint_generated() {
    "$venv/bin/python" tests/template/sam_translate.py template.yaml "$work/generated.json" &&
        "$venv/bin/cfn-lint" "$work/generated.json"
}

checkov_template() {
    # --skip-download: no calls to the Prisma Cloud API (there is no network
    # here, and the checks themselves ship with the package).
    "$venv/bin/checkov" -f template.yaml --quiet --compact --skip-download
}

asl_validate() {
    local f ok=0
    for f in statemachines/*.asl.json; do
        npx --no-install asl-validator --json-path "$f" || ok=1
    done
    return "$ok"
}

run "cfn-lint template.yaml (with cfn-lint-serverless rules)" cfn_lint_sam
run "cfn-lint of the CloudFormation that SAM generates" cfn_lint_generated
run "checkov template.yaml" checkov_template
run "asl-validator statemachines/*.asl.json" asl_validate
run "template against the code (binaries, environment)" "$venv/bin/python" tests/template/check_against_code.py

echo
if ((${#failed[@]})); then
    printf 'template checks: %d failed: %s\n' "${#failed[@]}" "$(IFS=';'; echo "${failed[*]}")"
    exit 1
fi
echo "template checks: all passed"
