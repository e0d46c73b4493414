#!/usr/bin/env python3
"""Validate Kubernetes objects (a JSON array on stdin) against a CRD's openAPIV3Schema.

Usage: validate_crd.py CRD.yaml VERSION < objects.json

Like the API server, the object's apiVersion and kind must be the CRD's; unlike it, unknown
fields are errors rather than silently pruned (an object we write must not lose data), so
every schema object with `properties` and no `additionalProperties` is closed.
Prints one line per error and exits 1 when there is any.
"""
import json
import sys

import jsonschema
import yaml


def closed(schema):
    if isinstance(schema, dict):
        schema = {k: closed(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed(v) for v in schema]
    return schema


def main():
    crd_path, version = sys.argv[1], sys.argv[2]
    with open(crd_path) as f:
        crd = yaml.safe_load(f)
    spec = crd["spec"]
    served = [v for v in spec["versions"] if v["name"] == version]
    if not served:
        print(f"{crd_path}: no version {version}")
        return 1
    schema = closed(served[0]["schema"]["openAPIV3Schema"])
    # The API server fills metadata; its schema is open.
    schema["properties"]["metadata"] = {"type": "object"}
    validator = jsonschema.Draft4Validator(schema)
    objects = json.load(sys.stdin)
    errors = 0
    for obj in objects:
        name = f'{obj.get("kind")} {obj.get("metadata", {}).get("namespace", "")}/{obj.get("metadata", {}).get("name")}'
        if obj.get("apiVersion") != f'{spec["group"]}/{version}':
            print(f"{name}: apiVersion {obj.get('apiVersion')!r}")
            errors += 1
        if obj.get("kind") != spec["names"]["kind"]:
            print(f"{name}: kind {obj.get('kind')!r} is not {spec['names']['kind']}")
            errors += 1
        for error in validator.iter_errors(obj):
            path = "/".join(str(p) for p in error.absolute_path)
            print(f"{name}: {path}: {error.message}")
            errors += 1
    print(f"{len(objects)} objects checked, {errors} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
