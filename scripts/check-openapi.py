#!/usr/bin/env python3
"""Check recorded HTTP answers against an OpenAPI 3.0 document, independently of our code.

Usage: check-openapi.py SPEC.yaml ANSWERS.json

ANSWERS.json is a list of {"method", "path", "status", "headers": {lower-case name: value},
"body": text}. Paths are relative to the API root, before the document's `servers` URL
(`/api/v1/metadata`). For each answer:
- the path must match one of the document's path templates and the method one of its
  operations;
- the status must be one the operation lists (401 is allowed wherever a security scheme
  applies);
- when the listed response has `content`, the Content-Type must be one of its media types
  and the body must validate (JSON Schema, $refs resolved) against that media type's schema;
- the listed response headers that have a schema must be present and of that type.

Exits 1 listing every violation, 0 when all answers conform. Needs python3-yaml and
python3-jsonschema (Debian packages).
"""

import json
import re
import sys

import jsonschema
import yaml


def resolve(node, root, depth=0):
    """The node with every local $ref replaced by its target (the documents are acyclic)."""
    if depth > 50:
        raise ValueError("$ref nesting deeper than 50")
    if isinstance(node, dict):
        if "$ref" in node:
            target = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(target, root, depth + 1)
        out = {}
        for key, value in node.items():
            if key == "example":
                continue
            out[key] = resolve(value, root, depth + 1)
        # OpenAPI 3.0's `nullable` is not JSON Schema.
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [resolve(item, root, depth + 1) for item in node]
    return node


def template_regex(template):
    return re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$")


def normalise_media(value):
    return ";".join(part.strip() for part in value.split(";")).lower()


def check(spec, answer):
    problems = []
    method = answer["method"].lower()
    path = answer["path"].split("?", 1)[0]
    base = spec.get("servers", [{}])[0].get("url", "")
    if base and path.startswith(base):
        path = path[len(base):] or "/"
    operation = None
    for template, item in spec["paths"].items():
        if template_regex(template).match(path):
            operation = item.get(method)
            if operation is None:
                problems.append(f"{method.upper()} is not an operation of {template}")
                return problems
            break
    if operation is None:
        return [f"no path of the document matches {path}"]
    status = str(answer["status"])
    if status == "401" and (operation.get("security") or spec.get("security")):
        # An operation under a security scheme may always answer 401.
        return problems
    responses = {str(k): v for k, v in operation.get("responses", {}).items()}
    listed = responses.get(status) or responses.get("default")
    if listed is None:
        return [f"status {status} is not listed (listed: {', '.join(sorted(responses))})"]
    headers = {k.lower(): v for k, v in answer.get("headers", {}).items()}
    for name, header in (listed.get("headers") or {}).items():
        value = headers.get(name.lower())
        if value is None:
            problems.append(f"header {name} is missing")
            continue
        kind = (header.get("schema") or {}).get("type")
        if kind == "integer" and not re.fullmatch(r"-?\d+", value.strip()):
            problems.append(f"header {name}: '{value}' is not an integer")
    content = listed.get("content")
    if not content:
        return problems
    content_type = headers.get("content-type", "")
    media = {normalise_media(k): v for k, v in content.items()}
    entry = media.get(normalise_media(content_type))
    if entry is None:
        problems.append(f"Content-Type '{content_type}' is not one of {sorted(content)}")
        return problems
    schema = resolve(entry.get("schema") or {}, spec)
    if schema.get("type") == "string":
        return problems
    try:
        body = json.loads(answer["body"])
    except ValueError as e:
        problems.append(f"body is not JSON: {e}")
        return problems
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"body {where}: {error.message[:300]}")
    return problems


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        answers = json.load(f)
    failures = 0
    for answer in answers:
        problems = check(spec, answer)
        if problems:
            failures += 1
            print(f"{answer['method']} {answer['path']} -> {answer['status']}:")
            for problem in problems:
                print(f"  {problem}")
    print(f"{len(answers)} answers checked against {sys.argv[1]}: {failures} do not conform")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
