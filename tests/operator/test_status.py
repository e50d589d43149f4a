"""status.report: outcome of a reconcile -> status fields and condition updates (pure)."""

from __future__ import annotations

from typing import Any

import jsonpatch
import kopf
from ner_operator import status, sync
from ner_operator.reconcile import Change, Outcome, TargetResult
from ner_operator.regions import TargetError

from tests.operator.conftest import make_cluster


def _ok(target: str, desired: int, ready: int, *changes: Change) -> TargetResult:
    return TargetResult(target, "region", "ner", changes, None, desired, ready)


def _failed(target: str, reason: str = "Unreachable", transient: bool = True) -> TargetResult:
    error = TargetError(reason, f"https://{target} is unreachable", transient=transient)
    return TargetResult(target, "region", "ner", (), error)


def _conditions(report: status.Report) -> dict[str, dict[str, object]]:
    return {c["type"]: c for c in report.conditions_after({}, now="T")}


def test_all_ready() -> None:
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": _ok("region-b", 1, 1)}
    )
    report = status.report(outcome, {}, now="T")
    patch = report.fields
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
    conditions = _conditions(report)
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Progressing"]["status"] == "False"
    assert conditions["Degraded"]["status"] == "False"


def test_one_region_down_is_degraded_with_a_clear_message() -> None:
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": _failed("region-b")}
    )
    report = status.report(outcome, {}, now="T")
    patch = report.fields
    assert patch["phase"] == "Degraded"
    assert patch["regions"]["region-b"]["reachable"] is False
    assert (
        patch["regions"]["region-b"]["lastError"] == "Unreachable: https://region-b is unreachable"
    )
    assert "namespace" not in patch["regions"]["region-b"]  # the last good one is kept
    degraded = _conditions(report)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "Unreachable")
    assert "region-b" in str(degraded["message"]) and "nothing was deleted" in str(
        degraded["message"]
    )
    assert _conditions(report)["Ready"]["status"] == "False"


def test_a_bad_kubeconfig_is_not_called_unreachable() -> None:
    failed = _failed("region-b", "KubeconfigInvalid", transient=False)
    outcome = Outcome(make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": failed})
    report = status.report(outcome, {}, now="T")
    patch = report.fields
    assert patch["regions"]["region-b"]["reachable"] is True
    assert _conditions(report)["Degraded"]["reason"] == "KubeconfigInvalid"


def test_changes_and_unready_replicas_are_progressing() -> None:
    created = Change("created", "Deployment", "ner", "demo")
    outcome = Outcome(
        make_cluster(),
        {"region-a": _ok("region-a", 3, 0, created), "region-b": _ok("region-b", 1, 1)},
    )
    report = status.report(outcome, {}, now="T")
    patch = report.fields
    assert patch["phase"] == "Progressing"
    progressing = _conditions(report)["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("True", "ObjectsChanged")
    assert "created Deployment in region-a" in str(progressing["message"])
    assert "region-a 0/3" in str(_conditions(report)["Ready"]["message"])


def test_failed_over_phase_when_the_standby_serves() -> None:
    cluster = make_cluster(activeRegion="region-b")
    outcome = Outcome(
        cluster, {"region-a": _ok("region-a", 1, 1), "region-b": _ok("region-b", 3, 3)}
    )
    assert status.report(outcome, {}, now="T").fields["phase"] == "FailedOver"


def test_other_writers_keys_survive_and_removed_regions_are_nulled() -> None:
    current = {
        "regions": {"region-z": {"reachable": True}},
        "health": {"region-a": {"healthy": True}},
    }
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": _ok("region-b", 1, 1)}
    )
    patch = status.report(outcome, current, now="T").fields
    assert patch["regions"]["region-z"] is None  # merge patch: delete the key
    assert "health" not in patch  # the failover timer's map is not touched
    assert "conditions" not in patch  # never the whole list: see the next test


def test_a_condition_set_by_the_failover_timer_meanwhile_survives_the_reconcile() -> None:
    """The reconcile read the status before the failover timer set FailedOver; its write, made
    against the body as it is when the patch goes out, keeps the timer's condition."""
    read: dict[str, Any] = {"metadata": {"resourceVersion": "1"}, "status": {"conditions": []}}
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": _ok("region-b", 1, 1)}
    )
    patch = kopf.Patch(body=read)  # type: ignore[arg-type]
    sync.write_status(patch, status.report(outcome, read["status"], now="T"))
    failed_over = {"type": "FailedOver", "status": "True", "reason": "ServingFromStandby"}
    fresh = {"metadata": {"resourceVersion": "2"}, "status": {"conditions": [failed_over]}}
    written = jsonpatch.apply_patch(fresh, patch.as_json_patch(fresh))  # type: ignore[arg-type]
    kinds = {c["type"]: c["status"] for c in written["status"]["conditions"]}
    assert kinds == {
        "FailedOver": "True",
        "Ready": "True",
        "Progressing": "False",
        "Degraded": "False",
    }


def test_changes_ignores_timestamps_only() -> None:
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 3), "region-b": _ok("region-b", 1, 1)}
    )
    first = status.report(outcome, {}, now="T1")
    assert first.changes({})
    written = {**first.fields, "conditions": first.conditions_after({}, now="T1")}
    assert not status.report(outcome, written, now="T2").changes(written)
    outcome = Outcome(
        make_cluster(), {"region-a": _ok("region-a", 3, 2), "region-b": _ok("region-b", 1, 1)}
    )
    assert status.report(outcome, written, now="T3").changes(written)


def test_invalid_spec_report() -> None:
    report = status.invalid_spec("invalid spec: regions: exactly one primary", 4)
    assert report.fields == {"observedGeneration": 4, "phase": "Error"}
    degraded = _conditions(report)["Degraded"]
    assert (degraded["reason"], degraded["message"]) == (
        "InvalidSpec",
        "invalid spec: regions: exactly one primary",
    )


def test_fields_and_conditions_go_out_in_one_write() -> None:
    """kopf sends ``patch.status`` (a merge patch) before the functions' JSON patch: a phase put
    there would be readable for a moment next to the previous conditions."""
    read: dict[str, Any] = {
        "metadata": {"resourceVersion": "1"},
        "status": {"phase": "Ready", "regions": {"region-z": {"reachable": True}}},
    }
    patch = kopf.Patch(body=read)  # type: ignore[arg-type]
    sync.write_status(patch, status.invalid_spec("invalid spec: regions: two primaries", 2))
    assert dict(patch) == {}  # no merge patch: everything is in the one JSON patch
    written = jsonpatch.apply_patch(read, patch.as_json_patch(read))  # type: ignore[arg-type]
    assert written["status"]["phase"] == "Error"
    assert written["status"]["regions"] == {"region-z": {"reachable": True}}
    assert {c["type"]: c["reason"] for c in written["status"]["conditions"]} == {
        "Ready": "InvalidSpec",
        "Progressing": "InvalidSpec",
        "Degraded": "InvalidSpec",
    }


def test_a_report_merges_like_a_merge_patch() -> None:
    current: dict[str, Any] = {"regions": {"region-a": {"ready": 1}, "region-z": {"ready": 2}}}
    status.merge(current, {"regions": {"region-a": {"ready": 3}, "region-z": None}, "phase": "X"})
    assert current == {"regions": {"region-a": {"ready": 3}}, "phase": "X"}
