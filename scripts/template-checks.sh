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

# Each check takes the template to check: template.yaml as it is, then a
# variant with the optional parts switched on (see below); the cfn-lint
# checks pass any further arguments to cfn-lint.
cfn_lint_sam() {
    local template="$1"
    shift
    "$venv/bin/cfn-lint" "$template" -a cfn_lint_serverless.rules "$@"
}

cfn_lint_generated() {
    local template="$1" generated
    shift
    generated="$work/generated-$(basename "$template").json"
    "$venv/bin/python" tests/template/sam_translate.py "$template" "$generated" &&
        "$venv/bin/cfn-lint" "$generated" "$@"
}

checkov_template() {
    # --skip-download: no calls to the Prisma Cloud API (there is no network
    # here, and the checks themselves ship with the package).
    "$venv/bin/checkov" -f "$1" --quiet --compact --skip-download
}

asl_validate() {
    local f ok=0
    for f in statemachines/*.asl.json; do
        npx --no-install asl-validator --json-path "$f" || ok=1
    done
    return "$ok"
}

run "cfn-lint template.yaml (with cfn-lint-serverless rules)" cfn_lint_sam template.yaml
run "cfn-lint of the CloudFormation that SAM generates" cfn_lint_generated template.yaml
run "checkov template.yaml" checkov_template template.yaml

# The same three on a variant whose defaults switch on what the defaults
# leave off (RegionSwitchPlan create: the ARC Region switch plan and its
# roles), so that both branches are checked, not only the one the defaults
# deploy. In the variant the plan's workflows have their Refs and GetAtts
# resolved to sample values: cfn-lint does not report a wrong value in an
# execution block that also holds one (tests/template/variant.py). The
# parameters resolved away are then unused there: W2001 is expected.
variant="$work/template-region-switch.json"
if "$venv/bin/python" tests/template/variant.py template.yaml "$variant" \
    RegionSwitchPlan=create PrimaryRegion=us-east-1 --resolve ArcRegionSwitchPlan.Workflows; then
    run "cfn-lint, RegionSwitchPlan=create" cfn_lint_sam "$variant" --ignore-checks W2001
    run "cfn-lint of the generated CloudFormation, RegionSwitchPlan=create" \
        cfn_lint_generated "$variant" --ignore-checks W2001
    run "checkov, RegionSwitchPlan=create" checkov_template "$variant"
else
    failed+=("the RegionSwitchPlan=create variant of template.yaml")
fi
# The production account's template (deploy/source-account.yaml): plain
# CloudFormation, no SAM transform.
run "cfn-lint deploy/source-account.yaml" "$venv/bin/cfn-lint" deploy/source-account.yaml
run "checkov deploy/source-account.yaml" checkov_template deploy/source-account.yaml
# And the variant of a pair across accounts (SourceAccountId and the
# production roles given): ReplicationRole and the failback statements that
# only exist then.
cross="$work/template-cross-account.json"
if "$venv/bin/python" tests/template/variant.py template.yaml "$cross" \
    SourceAccountId=111111111111 \
    SourceAccountRoleArn=arn:aws:iam::111111111111:role/efs-dr-source-access \
    SourceAccountExternalId=an-external-id \
    SourceReplicationRoleArn=arn:aws:iam::111111111111:role/efs-dr-source-replication \
    SourceBackupRoleArn=arn:aws:iam::111111111111:role/efs-dr-source-backup; then
    run "cfn-lint, SourceAccountId set" cfn_lint_sam "$cross"
    run "checkov, SourceAccountId set" checkov_template "$cross"
else
    failed+=("the cross-account variant of template.yaml")
fi
run "asl-validator statemachines/*.asl.json" asl_validate
run "template against the code (binaries, environment)" "$venv/bin/python" tests/template/check_against_code.py

echo
if ((${#failed[@]})); then
    printf 'template checks: %d failed: %s\n' "${#failed[@]}" "$(IFS=';'; echo "${failed[*]}")"
    exit 1
fi
echo "template checks: all passed"
