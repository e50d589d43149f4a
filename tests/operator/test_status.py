"""status.report: outcome of a reconcile -> status merge patch (pure)."""

from __future__ import annotations

from ner_operator import status
from ner_operator.reconcile import Change, Outcome, TargetResult
from ner_operator.regions import TargetError

from tests.operator.conftest import make_cluster


def _ok(target: str, desired: int, ready: int, *changes: Change) -> TargetResult:
    return TargetResult(target, "region", "ner", changes, None, desired, ready)


def _failed(target: str, reason: str = "Unreachable", transient: bool = True) -> TargetResult:
    error = TargetError(reason, f"https://{target} is unreachable", transient=transient)
    return TargetResult(target, "region", "ner", (), error)


def _conditions(patch: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["type"]: c for c in patch["conditions"]}  # type: ignore[attr-defined, index]


def test_all_ready() -> None:
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": _ok("region-b", 1, 1)}
    )
    patch = status.report(outcome, {}, now="T")
    assert patch["phase"] == "Ready"
    assert patch["observedGeneration"] == 1
    assert patch["readySummary"] == "4/4"
    assert patch["regions"]["region-a"] == {
        "reachable": True,
        "desiredReplicas": 3,
        "readyReplicas": 3,
        "lastError": None,
        "lastSyncTime": "T",
        "namespace": "ner",
    }
    conditions = _conditions(patch)
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Progressing"]["status"] == "False"
    assert conditions["Degraded"]["status"] == "False"


def test_one_region_down_is_degraded_with_a_clear_message() -> None:
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": _failed("region-b")}
    )
    patch = status.report(outcome, {}, now="T")
    assert patch["phase"] == "Degraded"
    assert patch["regions"]["region-b"]["reachable"] is False
    assert (
        patch["regions"]["region-b"]["lastError"] == "Unreachable: https://region-b is unreachable"
    )
    assert "namespace" not in patch["regions"]["region-b"]  # the last good one is kept
    degraded = _conditions(patch)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "Unreachable")
    assert "region-b" in str(degraded["message"]) and "nothing was deleted" in str(
        degraded["message"]
    )
    assert _conditions(patch)["Ready"]["status"] == "False"


def test_a_bad_kubeconfig_is_not_called_unreachable() -> None:
    failed = _failed("region-b", "KubeconfigInvalid", transient=False)
    outcome = Outcome(make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": failed})
    patch = status.report(outcome, {}, now="T")
    assert patch["regions"]["region-b"]["reachable"] is True
    assert _conditions(patch)["Degraded"]["reason"] == "KubeconfigInvalid"


def test_changes_and_unready_replicas_are_progressing() -> None:
    created = Change("created", "Deployment", "ner", "demo")
    outcome = Outcome(
        make_cluster(),
        {"region-a": _ok("region-a", 3, 0, created), "region-b": _ok("region-b", 1, 1)},
    )
    patch = status.report(outcome, {}, now="T")
    assert patch["phase"] == "Progressing"
    progressing = _conditions(patch)["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("True", "ObjectsChanged")
    assert "created Deployment in region-a" in str(progressing["message"])
    assert "region-a 0/3" in str(_conditions(patch)["Ready"]["message"])


def test_failed_over_phase_when_the_standby_serves() -> None:
    cluster = make_cluster(activeRegion="region-b")
    outcome = Outcome(
        cluster, {"region-a": _ok("region-a", 1, 1), "region-b": _ok("region-b", 3, 3)}
    )
    assert status.report(outcome, {}, now="T")["phase"] == "FailedOver"


def test_other_writers_keys_survive_and_removed_regions_are_nulled() -> None:
    current = {
        "regions": {"region-z": {"reachable": True}},
        "conditions": [{"type": "FailedOver", "status": "False", "reason": "R", "message": ""}],
        "health": {"region-a": {"healthy": True}},
    }
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": _ok("region-b", 1, 1)}
    )
    patch = status.report(outcome, current, now="T")
    assert patch["regions"]["region-z"] is None  # merge patch: delete the key
    assert "health" not in patch  # the failover timer's map is not touched
    assert "FailedOver" in _conditions(patch)


def test_changed_ignores_timestamps_only() -> None:
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": _ok("region-b", 1, 1)}
    )
    first = status.report(outcome, {}, now="T1")
    assert status.changed(first, {})
    again = status.report(outcome, first, now="T2")
    assert not status.changed(again, first)
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 2), "region-b": _ok("region-b", 1, 1)}
    )
    assert status.changed(status.report(outcome, first, now="T3"), first)


def test_invalid_spec_report() -> None:
    patch = status.invalid_spec("invalid spec: regions: exactly one primary", {}, 4, now="T")
    assert patch["phase"] == "Error"
    assert patch["observedGeneration"] == 4
    degraded = _conditions(patch)["Degraded"]
    assert (degraded["reason"], degraded["message"]) == (
        "InvalidSpec",
        "invalid spec: regions: exactly one primary",
    )
