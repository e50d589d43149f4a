"""Example NerCluster objects shared by the unit and integration tests."""

from __future__ import annotations

import copy
from typing import Any

SPEC: dict[str, Any] = {
    "image": "ner-ha/inference:0.1.0",
    "mode": "activePassive",
    "regions": [
        {
            "name": "region-a",
            "role": "primary",
            "kubeconfigSecret": {"name": "region-a-kubeconfig", "key": "kubeconfig"},
            "namespace": "ner",
            "replicas": 3,
            "warmReplicas": 1,
            "endpoint": "http://127.0.0.1:9",  # loopback only; nothing listens
        },
        {
            "name": "region-b",
            "role": "standby",
            "kubeconfigSecret": {"name": "region-b-kubeconfig"},
            "replicas": 3,
            "warmReplicas": 1,
            "endpoint": "http://127.0.0.1:9",
        },
    ],
    "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 10},
    "gateway": {"enabled": False},
}


def spec(**overrides: Any) -> dict[str, Any]:
    """A valid spec; top-level fields can be replaced."""
    result = copy.deepcopy(SPEC)
    result.update(copy.deepcopy(overrides))
    return result


def nercluster(
    name: str = "demo",
    namespace: str = "ner-system",
    *,
    uid: str | None = None,
    spec_: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A NerCluster object; ``uid`` set means "as read back from the API server"."""
    body: dict[str, Any] = {
        "apiVersion": "nerha.dev/v1alpha1",
        "kind": "NerCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec_ if spec_ is not None else spec(),
    }
    if uid is not None:
        body["metadata"].update(uid=uid, generation=1)
    if status is not None:
        body["status"] = status
    return body
