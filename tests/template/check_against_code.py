"""The template agrees with the code: every function's Binary is a binary of
the workspace, every environment variable it sets is one the code reads, and
each function gets the variables it cannot work without."""

import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]

# What each function needs from its environment to do anything useful.
REQUIRED = {
    "failover": {"EFS_DR_PAIRS", "EFS_DR_ALERTS_TOPIC_ARN"},
    "failback": {"EFS_DR_PAIRS", "EFS_DR_ALERTS_TOPIC_ARN", "EFS_DR_BACKUP_VAULT", "EFS_DR_BACKUP_ROLE_ARN"},
    "mount-target-ensure": {"EFS_DR_PAIRS", "EFS_DR_DEFAULT_MODE"},
    "lag-alarm-handler": {"EFS_DR_PAIRS", "EFS_DR_ALERTS_TOPIC_ARN", "EFS_DR_FAILOVER_TOPIC_ARN",
                          "EFS_DR_ALARM_POLICY", "EFS_DR_WATCHED_ALARMS"},
}


def workspace_binaries():
    names = set()
    for cargo in ROOT.glob("*/**/Cargo.toml"):
        if "target" in cargo.parts or ".venv" in str(cargo):
            continue
        text = cargo.read_text()
        for block in re.findall(r"\[\[bin\]\](.*?)(?=\n\[|\Z)", text, re.S):
            m = re.search(r'name\s*=\s*"([^"]+)"', block)
            if m:
                names.add(m.group(1))
    return names


def variables_the_code_reads():
    found = set()
    # The layers the functions link: the core (configuration), the workflows
    # and the adapters (Lambda glue, AWS settings).
    for crate in ("core", "shared", "aws"):
        for src in (ROOT / crate / "src").rglob("*.rs"):
            found.update(re.findall(r'"((?:EFS_DR|AWS_LAMBDA)_[A-Z_]+)"', src.read_text()))
    return found


def main():
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    binaries = workspace_binaries()
    readable = variables_the_code_reads()
    problems = []
    seen = set()
    for name, res in template["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if binary not in binaries:
            problems.append(f"{name}: Binary {binary!r} is not a [[bin]] of the workspace ({sorted(binaries)})")
            continue
        seen.add(binary)
        env = res.get("Properties", {}).get("Environment", {}).get("Variables", {}) or {}
        for var in env:
            if var not in readable:
                problems.append(f"{name}: sets {var}, which no code reads")
        for var in REQUIRED.get(binary, set()) - set(env):
            problems.append(f"{name}: does not set {var}, which {binary} needs")
    for missing in set(REQUIRED) - seen:
        problems.append(f"no function builds the {missing} binary")
    for p in problems:
        print(f"  {p}")
    print(f"{len(seen)} functions checked against the code, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
