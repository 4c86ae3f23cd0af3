#!/usr/bin/python3
"""The JSON output contracts (docs/schema): validates outputs against their schemas, checks
that each schema's file name, $id and schema_version agree, and that every command that
offers --json has a schema (the table in docs/schema/README.md).

  json_schema.py validate SCHEMA_DIR NAME FILE...   FILE (or '-': stdin) against NAME.vN.json
  json_schema.py schemas SCHEMA_DIR                  the schemas themselves
  json_schema.py coverage SCHEMA_DIR ZEPTO           every --json command has a schema
"""
import glob
import json
import os
import re
import subprocess
import sys

import jsonschema


def load_schema(d, name):
    files = sorted(glob.glob(os.path.join(d, f"{name}.v*.json")))
    if not files:
        sys.exit(f"json_schema: no schema named '{name}' in {d}")
    # The highest version is the current contract.
    files.sort(key=lambda f: int(re.search(r"\.v(\d+)\.json$", f).group(1)))
    return files[-1], json.load(open(files[-1]))


def validate(d, name, files):
    path, schema = load_schema(d, name)
    cls = jsonschema.validators.validator_for(schema)
    v = cls(schema)
    bad = 0
    for f in files:
        try:
            doc = json.load(sys.stdin if f == "-" else open(f))
        except (OSError, ValueError) as e:
            print(f"{f}: not JSON: {e}")
            bad += 1
            continue
        errs = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
        for e in errs[:5]:
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            print(f"{f}: {os.path.basename(path)}: at {where}: {e.message}")
        bad += bool(errs)
    return bad


def schemas(d):
    bad = 0
    files = glob.glob(os.path.join(d, "*.json"))
    if not files:
        print(f"no schemas in {d}")
        return 1
    for f in sorted(files):
        m = re.fullmatch(r"([a-z0-9-]+)\.v(\d+)\.json", os.path.basename(f))
        if not m:
            print(f"{f}: the name is not NAME.vN.json")
            bad += 1
            continue
        name, ver = m.group(1), int(m.group(2))
        s = json.load(open(f))
        try:
            jsonschema.validators.validator_for(s).check_schema(s)
        except jsonschema.SchemaError as e:
            print(f"{f}: not a valid JSON Schema: {e.message}")
            bad += 1
        if s.get("$id") != f"urn:zepto:schema:{name}:v{ver}":
            print(f"{f}: $id {s.get('$id')!r} does not name {name} v{ver}")
            bad += 1
        if s.get("properties", {}).get("schema_version") != {"const": ver}:
            print(f"{f}: schema_version must be the constant {ver}")
            bad += 1
        if "schema_version" not in s.get("required", []):
            print(f"{f}: schema_version is not required")
            bad += 1
    return bad


def commands(zepto, path=()):
    """Every command path under zepto (from --commands), with its --help text."""
    out = subprocess.run([zepto, *path, "--commands"], capture_output=True, text=True)
    subs = [l.split("\t")[0] for l in out.stdout.splitlines() if l.strip()] if out.returncode == 0 else []
    if not subs or (path and subs == [path[-1]]):
        h = subprocess.run([zepto, *path, "--help"], capture_output=True, text=True)
        yield path, h.stdout + h.stderr
        return
    for s in subs:
        if (s,) != path[-1:]:
            yield from commands(zepto, (*path, s))


def coverage(d, zepto):
    readme = open(os.path.join(d, "README.md")).read()
    table = {}
    for m in re.finditer(r"^\| `zepto ([^`]*)` \| ([^|]+) \|", readme, re.M):
        words = []
        for w in m.group(1).split():
            if not re.fullmatch(r"[a-z]+", w):
                break
            words.append(w)
        table[" ".join(words)] = m.group(2).strip()
    bad = 0
    seen = 0
    for path, text in commands(zepto):
        cmd = " ".join(path)
        if not re.search(r"^\s+--json\b", text, re.M):
            continue
        seen += 1
        if re.search(r"--json\s+refused", text):
            continue  # says why it has no JSON (ktau show: the TAU files are the data)
        names = table.get(cmd)
        if not names:
            print(f"zepto {cmd} offers --json but docs/schema/README.md names no schema for it")
            bad += 1
            continue
        for n in re.findall(r"`([a-z0-9-]+)`", names):
            if not glob.glob(os.path.join(d, f"{n}.v*.json")):
                print(f"zepto {cmd}: schema {n} is named but not in {d}")
                bad += 1
    if seen < 5:
        print(f"only {seen} commands with --json were found: the command walk is broken")
        bad += 1
    return bad


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "validate":
        sys.exit(1 if validate(a[1], a[2], a[3:] or ["-"]) else 0)
    if len(a) == 2 and a[0] == "schemas":
        sys.exit(1 if schemas(a[1]) else 0)
    if len(a) == 3 and a[0] == "coverage":
        sys.exit(1 if coverage(a[1], a[2]) else 0)
    sys.exit(__doc__)
