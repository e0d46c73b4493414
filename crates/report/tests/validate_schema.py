#!/usr/bin/env python3
"""Validate a JSON document against a committed schema.

Usage: validate_schema.py cyclonedx|spdx|sarif FILE   (FILE `-` reads standard input)

Exit 0 when valid, 1 when invalid (errors on stderr), 3 when the Python `jsonschema`
package is missing (Debian: python3-jsonschema).
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("python3 module 'jsonschema' is missing (apt-get install python3-jsonschema)",
          file=sys.stderr)
    sys.exit(3)

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return json.load(f)


def validator(kind):
    if kind == "cyclonedx":
        schema = load("bom-1.6.schema.json")
        extra = [load("spdx.schema.json"), load("jsf-0.82.schema.json")]
    elif kind == "spdx":
        schema = load("spdx-2.3.schema.json")
        extra = []
    elif kind == "sarif":
        schema = load("sarif-schema-2.1.0.json")
        extra = []
    else:
        raise SystemExit(f"unknown schema kind {kind!r}")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    try:
        from referencing import Registry, Resource  # jsonschema >= 4.18
        registry = Registry().with_resources(
            [(s["$id"], Resource.from_contents(s)) for s in extra])
        return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
    except ImportError:
        store = {s["$id"]: s for s in extra}
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
        return cls(schema, resolver=resolver, format_checker=cls.FORMAT_CHECKER)


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if path == "-":
        doc = json.load(sys.stdin)
    else:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    errors = sorted(validator(kind).iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors[:20]:
        print(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}", file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
