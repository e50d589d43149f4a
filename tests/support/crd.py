"""Validation of a NerCluster against crds/nerclusters.yaml, as the API server would do it.

The emulators do no admission validation, so the tests check the CRD's own rules here: structural
defaulting, the openAPIV3Schema (with ``jsonschema``) and every ``x-kubernetes-validations`` CEL
rule (with ``cel-python``), each evaluated with ``self`` bound to the node it is declared on.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml

CRD_PATH = Path(__file__).resolve().parents[2] / "crds" / "nerclusters.yaml"


def load_crd() -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return crd


def schema(crd: dict[str, Any] | None = None) -> dict[str, Any]:
    version = (crd or load_crd())["spec"]["versions"][0]
    result: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return result


def apply_defaults(node_schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting: fill absent properties that declare a default, recursively."""
    value = copy.deepcopy(value)
    if isinstance(value, dict):
        for name, prop in (node_schema.get("properties") or {}).items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                value[name] = apply_defaults(prop, value[name])
        extra = node_schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in value:
                if name not in (node_schema.get("properties") or {}):
                    value[name] = apply_defaults(extra, value[name])
    elif isinstance(value, list) and isinstance(node_schema.get("items"), dict):
        value = [apply_defaults(node_schema["items"], item) for item in value]
    return value


def _to_json_schema(node: Any) -> Any:
    """OpenAPI v3 ``nullable`` -> JSON Schema type unions; everything else carries over."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _to_json_schema(value) for key, value in node.items()}
    if result.pop("nullable", False) and "type" in result:
        result["type"] = [result["type"], "null"]
    return result


def _rules(
    node_schema: dict[str, Any], value: Any, path: str
) -> Iterator[tuple[str, str, str, Any]]:
    """(path, rule, message, self) for every CEL rule that applies to ``value``."""
    for rule in node_schema.get("x-kubernetes-validations") or ():
        yield path, rule["rule"], rule.get("message", rule["rule"]), value
    if isinstance(value, dict):
        for name, prop in (node_schema.get("properties") or {}).items():
            if name in value and value[name] is not None:
                yield from _rules(prop, value[name], f"{path}.{name}")
    elif isinstance(value, list) and isinstance(node_schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from _rules(node_schema["items"], item, f"{path}[{i}]")


def violations(obj: dict[str, Any], crd: dict[str, Any] | None = None) -> list[str]:
    """What the API server would reject ``obj`` for (after defaulting); empty if it is valid."""
    root = schema(crd)
    defaulted = apply_defaults(root, obj)
    validator = jsonschema.Draft4Validator(_to_json_schema(root))
    problems = [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(defaulted)
    ]
    if problems:  # CEL rules run only on structurally valid objects, as in the API server
        return problems
    env = celpy.Environment()
    for path, rule, message, value in _rules(root, defaulted, "self"):
        program = env.program(env.compile(rule))
        if not bool(program.evaluate({"self": celpy.json_to_cel(value)})):
            problems.append(f"{path}: {message}")
    return problems
