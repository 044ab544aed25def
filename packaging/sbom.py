#!/usr/bin/env python3
"""CycloneDX 1.5 SBOM of the seismo binary, from Cargo.lock.

    python3 packaging/sbom.py OUT.cdx.json

The component set is exactly what Cargo resolves for the `seismo` package alone on the build
platform (`cargo tree --locked -p seismo --target HOST`, package data from `cargo metadata`):
every crate reached from seismo over
normal dependency edges is linked into the binary (scope "required"); crates reached only
through build scripts or procedural macros shape the binary at compile time but are not in it
(scope "excluded"). Dev-dependencies (test and bench crates) are not part of the build and are
left out. Versions and SHA-256 checksums come from Cargo.lock. The output is deterministic for
a given Cargo.lock: the serial number is derived from it, and a timestamp is written only when
SOURCE_DATE_EPOCH is set. Only the Python standard library is used (3.11+ for tomllib).
"""

import datetime
import hashlib
import json
import os
import subprocess
import sys
import tomllib
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY_PACKAGE = "seismo"


def host_triple():
    out = subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("host: "):
            return line[len("host: "):].strip()
    sys.exit("sbom: cannot find the host triple in `rustc -vV`")


def cargo_metadata(triple):
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", triple,
         "--manifest-path", os.path.join(ROOT, "Cargo.toml")],
        check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def cargo_tree(triple, edges):
    """(depth, name, version) lines of `cargo tree -p seismo` over the given edge kinds. cargo
    tree resolves features for seismo alone, as `cargo build -p seismo` does; `cargo metadata`
    unifies them over the whole workspace (test crates included), which can add crates."""
    out = subprocess.run(
        ["cargo", "tree", "--locked", "-p", BINARY_PACKAGE, "-e", edges, "--target", triple,
         "--prefix", "depth", "--no-dedupe", "-f", "{p}",
         "--manifest-path", os.path.join(ROOT, "Cargo.toml")],
        check=True, stdout=subprocess.PIPE, text=True).stdout
    rows = []
    for line in out.splitlines():
        digits = len(line) - len(line.lstrip("0123456789"))
        if digits == 0:
            continue
        parts = line[digits:].split()
        rows.append((int(line[:digits]), parts[0], parts[1].lstrip("v")))
    return rows


def closure(rows, proc_macros, runtime):
    """(name, version) of every crate in the tree but the root. `runtime`: skip procedural
    macros and everything below them (they run in the compiler, not in the binary)."""
    seen, skip_below = set(), None
    for depth, name, version in rows:
        if skip_below is not None and depth > skip_below:
            continue
        skip_below = None
        if depth == 0:
            continue
        if runtime and (name, version) in proc_macros:
            skip_below = depth
            continue
        seen.add((name, version))
    return seen


def is_proc_macro(package):
    return any("proc-macro" in t["kind"] for t in package["targets"])


def purl(package):
    return f"pkg:cargo/{package['name']}@{package['version']}"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: sbom.py OUT.cdx.json")
    out_path = sys.argv[1]
    lock_path = os.path.join(ROOT, "Cargo.lock")
    with open(lock_path, "rb") as f:
        lock_bytes = f.read()
    lock = tomllib.loads(lock_bytes.decode())
    checksums = {(p["name"], p["version"]): p.get("checksum") for p in lock["package"]}

    meta = cargo_metadata(host_triple())
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    roots = [p for p in meta["packages"]
             if p["name"] == BINARY_PACKAGE and p["id"] in meta["workspace_members"]]
    if len(roots) != 1:
        sys.exit(f"sbom: expected one workspace package named {BINARY_PACKAGE}")
    root = roots[0]
    triple = host_triple()
    proc_macros = {(p["name"], p["version"]) for p in meta["packages"] if is_proc_macro(p)}
    runtime = closure(cargo_tree(triple, "normal"), proc_macros, runtime=True)
    build = closure(cargo_tree(triple, "normal,build"), proc_macros, runtime=False)
    by_key = {(p["name"], p["version"]): pid for pid, p in packages.items()}

    components, refs = [], {}
    for key in sorted(build):
        pid = by_key[key]
        p = packages[pid]
        ref = purl(p)
        refs[pid] = ref
        c = {
            "type": "library",
            "bom-ref": ref,
            "name": p["name"],
            "version": p["version"],
            "scope": "required" if key in runtime else "excluded",
            "purl": ref,
        }
        if p.get("description"):
            c["description"] = " ".join(p["description"].split())
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        checksum = checksums.get(key)
        if checksum:
            c["hashes"] = [{"alg": "SHA-256", "content": checksum}]
        if p.get("repository"):
            c["externalReferences"] = [{"type": "vcs", "url": p["repository"]}]
        if p["source"] is None:
            # A workspace crate: part of this project, not fetched from a registry.
            c["properties"] = [{"name": "cargo:source", "value": "workspace"}]
        components.append(c)
    refs[root["id"]] = purl(root)

    dependencies = []
    for pid in sorted(refs, key=lambda i: refs[i]):
        depends = sorted({refs[d["pkg"]] for d in nodes[pid]["deps"]
                          if d["pkg"] in refs
                          and {k["kind"] for k in d["dep_kinds"]} & {None, "build"}})
        dependencies.append({"ref": refs[pid], "dependsOn": depends})

    metadata = {
        "tools": {"components": [{"type": "application", "name": "seismo packaging/sbom.py"}]},
        "component": {
            "type": "application",
            "bom-ref": purl(root),
            "name": root["name"],
            "version": root["version"],
            "purl": purl(root),
            "licenses": [{"expression": root["license"]}] if root.get("license") else [],
            "description": root.get("description") or "",
        },
    }
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        metadata["timestamp"] = datetime.datetime.fromtimestamp(
            int(epoch), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                     "seismo-sbom:" + hashlib.sha256(lock_bytes).hexdigest())),
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(bom, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, out_path)
    required = sum(1 for c in components if c["scope"] == "required")
    print(f"sbom: {out_path}: {required} crates in the binary, "
          f"{len(components) - required} build-time only", file=sys.stderr)


if __name__ == "__main__":
    main()
