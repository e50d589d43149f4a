from __future__ import annotations

import copy
from typing import Any

from ner_operator import diff, labels, layout

from tests.operator.conftest import make_cluster


def _deployment() -> dict[str, Any]:
    objects = layout.desired_objects(make_cluster())["region-a"]
    return next(o for o in objects if o["kind"] == "Deployment")


def _as_served(desired: dict[str, Any]) -> dict[str, Any]:
    """What an API server returns: desired plus server fields, defaults and status."""
    live = copy.deepcopy(desired)
    live["metadata"].update(uid="u", resourceVersion="7", generation=2)
    live["spec"]["progressDeadlineSeconds"] = 600
    live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = (
        "/dev/termination-log"
    )
    live["status"] = {"readyReplicas": 3}
    return live


def test_server_added_fields_are_not_drift() -> None:
    desired = _deployment()
    assert diff.repair_patch(desired, _as_served(desired)) is None


def test_an_edited_field_is_drift_and_the_patch_restores_it() -> None:
    desired = _deployment()
    live = _as_served(desired)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:latest"
    patch = diff.repair_patch(desired, live)
    assert patch is not None
    assert patch["spec"]["template"] == desired["spec"]["template"]
    assert patch["metadata"]["labels"] == desired["metadata"]["labels"]


def test_an_extra_container_is_drift() -> None:
    desired = _deployment()
    live = _as_served(desired)
    live["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "x"})
    assert diff.repair_patch(desired, live) is not None


def test_hpa_scaled_replicas_are_left_alone_until_the_plan_changes() -> None:
    desired = _deployment()
    live = _as_served(desired)
    live["spec"]["replicas"] = 7  # the HPA scaled up under load
    assert diff.repair_patch(desired, live, hpa_owns_replicas=True) is None
    assert diff.repair_patch(desired, live, hpa_owns_replicas=False) is not None
    # A failover changes the plan: the operator writes the replicas again.
    live["metadata"]["annotations"][labels.PLANNED_REPLICAS] = "1"
    patch = diff.repair_patch(desired, live, hpa_owns_replicas=True)
    assert patch is not None and patch["spec"]["replicas"] == 3


def test_contains_distinguishes_types() -> None:
    assert not diff.contains({"port": "80"}, {"port": 80})
    assert not diff.contains({"a": True}, {"a": 1})
    assert diff.contains({"a": 1, "b": 2}, {"a": 1})


def test_resource_quantities_in_canonical_form_are_not_drift() -> None:
    desired = _deployment()
    container = desired["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"requests": {"cpu": 1, "memory": "0.5Gi"}, "limits": {"cpu": "0.5"}}
    live = _as_served(desired)
    live["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "1", "memory": "512Mi"},
        "limits": {"cpu": "500m"},
    }
    assert diff.repair_patch(desired, live) is None
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "400m"
    assert diff.repair_patch(desired, live) is not None


def test_quantities() -> None:
    assert diff.quantity("500m") == diff.quantity("0.5")
    assert diff.quantity("4Gi") == 4 * 2**30
    assert diff.quantity("1e3") == diff.quantity("1k") == 1000
    assert diff.quantity(2) == 2
    assert diff.quantity("lots") is None
    assert diff.quantity(True) is None
    # Outside resources a string is not a number.
    assert not diff.contains({"port": "80"}, {"port": 80})
