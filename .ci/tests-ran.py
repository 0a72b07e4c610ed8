#!/usr/bin/env python3
"""Every workspace member ran tests (issue 27): reads `cargo test`'s output (the file given)
and fails when a member's test binaries passed none — the trap of a workspace root whose
`cargo test` tests only the root package."""
import json
import os
import re
import subprocess
import sys

RUNNING = re.compile(r"^\s+Running (unittests )?(\S+) \(\S+/deps/([A-Za-z0-9_]+)-[0-9a-f]+\)")
DOCTESTS = re.compile(r"^\s+Doc-tests (\S+)")
RESULT = re.compile(r"^test result: \w+\. (\d+) passed")


def members() -> dict:
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
        capture_output=True, text=True, check=True).stdout)
    root = meta["workspace_root"].rstrip("/") + "/"
    out = {}
    for p in meta["packages"]:
        folder = p["manifest_path"][len(root):].rsplit("Cargo.toml", 1)[0]  # "" for the root
        out[p["name"]] = folder
    return out


def main(log: str) -> int:
    folders = members()
    passed = {name: 0 for name in folders}
    current = None
    for line in open(log, encoding="utf-8", errors="replace"):
        m = RUNNING.match(line)
        if m:
            unit, path, binary = m.groups()
            if unit:  # a crate's own unit tests: the binary bears the crate's name
                current = binary.replace("_", "-")
            else:  # an integration test: the member whose folder holds that file
                holders = [n for n, f in folders.items() if os.path.isfile(f + path)]
                current = holders[0] if len(holders) == 1 else None
            continue
        m = DOCTESTS.match(line)
        if m:
            current = m.group(1).replace("_", "-")
            continue
        m = RESULT.match(line)
        if m and current in passed:
            passed[current] += int(m.group(1))
    for name, n in sorted(passed.items()):
        print(f"tests-ran: {name}: {n} passed")
    none = [n for n, k in passed.items() if k == 0]
    if none:
        print(f"tests-ran: no test ran for {', '.join(none)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
