#!/usr/bin/env python3
"""docs/design.md's project layout against the tree: every path it names
exists, and every top-level folder of the repository is named."""
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
text = (root / "docs" / "design.md").read_text()
m = re.search(r"^## Project layout\n(.*?)(?=^## )", text, re.S | re.M)
if not m:
    sys.exit("check-layout: docs/design.md has no '## Project layout' section")
section = m.group(1)

problems = []
named = set()
for token in re.findall(r"`([^`\s]+)`", section):
    if "/" not in token or token.startswith(("http", "-")):
        continue
    path = root / token
    named.add(token.rstrip("/").split("/")[0])
    if token.endswith("/"):
        if not path.is_dir():
            problems.append(f"the layout names folder {token}, which does not exist")
    elif "." in token.rsplit("/", 1)[-1]:
        if not path.is_file():
            problems.append(f"the layout names file {token}, which does not exist")

tracked = subprocess.run(
    ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
).stdout.split()
top_folders = {p.split("/")[0] for p in tracked if "/" in p}
for folder in sorted(top_folders - named):
    problems.append(f"top-level folder {folder}/ is not in the layout of docs/design.md")

for p in problems:
    print(f"check-layout: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-layout: {len(named)} top-level folders and every path named in docs/design.md exist")
