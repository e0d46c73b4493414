"""Checks the workspace's `rust-version` against every dependency's and the language features used.

`cargo +<msrv>` cannot be fetched here, so this is the check: the declared rust-version must be at
least the highest `rust-version` of any package in the lock file, and at least the floor of the
language and library features the code uses (listed below with the release that stabilised them).
"""
import json
import subprocess
import sys

# Features the code relies on, and the Rust release that stabilised each.
FEATURES = {
    "let chains (edition 2024)": (1, 88),
    "std::fs::File::lock / try_lock": (1, 89),
}


def parse(v):
    return tuple(int(x) for x in v.split(".")[:2])


meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked"], text=True))
members = set(meta["workspace_members"])
declared = {parse(p["rust_version"]) for p in meta["packages"]
            if p["id"] in members and p.get("rust_version")}
if len(declared) != 1:
    sys.exit(f"workspace members declare differing or no rust-version: {sorted(declared)}")
(ours,) = declared
needed = [(parse(p["rust_version"]), f"dependency {p['name']} {p['version']}")
          for p in meta["packages"] if p["id"] not in members and p.get("rust_version")]
needed += [(v, f"feature: {name}") for name, v in FEATURES.items()]
worst = max(needed)
too_new = [why for v, why in needed if v > ours]
if too_new:
    sys.exit(f"rust-version {ours[0]}.{ours[1]} is too old; needed by: " + ", ".join(too_new))
print(f"rust-version {ours[0]}.{ours[1]} covers every dependency and feature (highest: {worst[1]}, "
      f"{worst[0][0]}.{worst[0][1]})")
