"""Rendering and validating what users install: the chart, the kustomize directories, examples.

Every object is validated as an API server would: built-in kinds with ``kubernetes_validate``
(strict, Kubernetes 1.31), NerClusters with the CRD's own schema and CEL rules
(``tests.support.crd``), KopfPeerings with the kopf.dev CRD shipped next to the chart, and the
prometheus-operator's ServiceMonitor with the fields this project uses.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.support import crd as nercluster_crd

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "ner-operator"
CONFIG = ROOT / "config"
EXAMPLES = ROOT / "examples"
KUBE_VERSION = "1.31.0"
KOPF_PEERING_CRD = CHART / "crds" / "kopfpeerings.yaml"

Object = dict[str, Any]

# prometheus-operator's ServiceMonitor (monitoring.coreos.com/v1): the fields the chart writes,
# with their upstream types; unknown fields are rejected so a typo cannot slip through.
_SERVICE_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {
                                "type": "string",
                                "pattern": "^(0|(([0-9]+)(ms|s|m|h))+)$",
                            },
                            "scrapeTimeout": {
                                "type": "string",
                                "pattern": "^(0|(([0-9]+)(ms|s|m|h))+)$",
                            },
                        },
                    },
                },
            },
        }
    },
}


def load_all(text: str) -> list[Object]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def load_file(path: Path) -> list[Object]:
    return load_all(path.read_text())


def _crd_schema(path: Path) -> dict[str, Any]:
    crd = yaml.safe_load(path.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def problems(obj: Mapping[str, Any]) -> list[str]:
    """Why an API server would reject ``obj``; empty when it is valid."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if (api_version, kind) == ("nerha.dev/v1alpha1", "NerCluster"):
        return nercluster_crd.violations(dict(obj))
    if (api_version, kind) == ("kopf.dev/v1", "KopfPeering"):
        validator = jsonschema.Draft4Validator(_crd_schema(KOPF_PEERING_CRD))
        return [e.message for e in validator.iter_errors(dict(obj))]
    if (api_version, kind) == ("monitoring.coreos.com/v1", "ServiceMonitor"):
        validator = jsonschema.Draft4Validator(_SERVICE_MONITOR_SCHEMA)
        return [e.message for e in validator.iter_errors(dict(obj))]
    try:
        kubernetes_validate.validate(dict(obj), KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(str(p) for p in e.path)}: {e.message}"]
    return []


def assert_valid(objects: list[Object], where: str) -> None:
    assert objects, f"{where}: nothing rendered"
    failures = {
        f"{o.get('kind')}/{o.get('metadata', {}).get('name')}": p
        for o in objects
        if (p := problems(o))
    }
    assert not failures, f"{where}: invalid objects: {failures}"


def kustomize(directory: Path) -> list[Object]:
    """``kubectl kustomize DIR``: the real kustomize that users and Argo CD run."""
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is needed (CI installs it)"
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"kubectl kustomize {directory}: {done.stderr}"
    return load_all(done.stdout)


def by_kind(objects: list[Object], kind: str) -> list[Object]:
    return [o for o in objects if o.get("kind") == kind]


def one(objects: list[Object], kind: str) -> Object:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]
