#!/usr/bin/env python3
"""The workspace's borders, checked in `cargo metadata` (issue 27): what each member may not
depend on, directly or through anything it uses (normal dependencies, host platform).
A rule for a member that does not exist yet is skipped, and says so. Exit 1 on a breach."""
import json
import subprocess
import sys

# member -> crates it must never reach (normal dependencies, transitively)
NEVER = {
    "medo-stdx": ["medo-wire", "medo-model", "medo-core", "medo-store", "medo-spool",
                  "medo-engine", "serde_json", "tokio", "sled", "tracing"],
    "medo-wire": ["medo-model", "medo-core", "medo-store", "medo-spool", "medo-engine",
                  "serde_json", "tokio", "sled", "axum", "hyper", "reqwest", "notify",
                  "tracing"],
    "medo-model": ["medo-core", "medo-store", "medo-spool", "medo-engine", "tokio", "sled",
                   "axum", "hyper", "reqwest", "notify", "tracing"],
    "medo-core": ["medo-store", "medo-spool", "medo-engine", "tokio", "sled", "axum",
                  "hyper", "reqwest", "notify", "tracing"],
    "medo-spool": ["medo-core", "medo-store", "medo-engine", "tokio", "sled", "axum",
                   "hyper", "reqwest"],
    "medo-store": ["medo-spool", "medo-engine", "tokio", "axum", "hyper", "reqwest", "notify"],
    "medo-config": ["medo-store", "medo-engine", "tokio", "sled", "axum", "hyper", "reqwest",
                    "notify"],
    "medo-engine": ["tokio", "axum", "hyper", "reqwest", "notify", "prometheus-client",
                    "medo-pg", "postgres"],
    # PostgreSQL's backend: the storage seam's traits (medo-store, which also holds the files
    # backend and sled) and the client with its runtime — nothing of the loop or the surfaces
    "medo-pg": ["medo-spool", "medo-engine", "medo-config", "axum", "hyper", "reqwest",
                "notify"],
}


def main() -> int:
    host = next(l.split(": ", 1)[1] for l in subprocess.run(
        ["rustc", "-vV"], capture_output=True, text=True, check=True).stdout.splitlines()
        if l.startswith("host: "))
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", host],
        capture_output=True, text=True, check=True).stdout)
    name = {p["id"]: p["name"] for p in meta["packages"]}
    normal = {}
    for node in meta["resolve"]["nodes"]:
        normal[node["id"]] = [d["pkg"] for d in node["deps"]
                              if any(k["kind"] is None for k in d["dep_kinds"])]
    members = {name[i]: i for i in meta["workspace_members"]}
    bad = 0
    for member, never in NEVER.items():
        if member not in members:
            print(f"borders: {member}: not a member yet, rule skipped")
            continue
        seen, todo, via = set(), [members[member]], {}
        while todo:
            at = todo.pop()
            for dep in normal.get(at, []):
                if dep not in seen:
                    seen.add(dep)
                    via[dep] = at
                    todo.append(dep)
        for dep in sorted(seen, key=lambda d: name[d]):
            if name[dep] in never:
                path, at = [name[dep]], dep
                while via.get(at) and via[at] != members[member]:
                    at = via[at]
                    path.append(name[at])
                print(f"borders: {member} must not reach {name[dep]}, but does: "
                      f"{member} -> {' -> '.join(reversed(path))}")
                bad += 1
    if bad == 0:
        print(f"borders: {len([m for m in NEVER if m in members])} members within their borders")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
