"""Pure status reports: a reconcile's outcome (or a spec error) in, a ``Report`` out.

``status.regions`` is a map keyed by region name, so a report's fields name only this operator's
keys and keep the rest (``status.health``, ``status.failover`` and ``status.activeRegion`` belong
to the failover timer). ``status.conditions`` is a list that the failover timer writes too, so the
report carries condition updates, not the list, and sets them in the list as it is when the patch
goes out (``Report.apply``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from ner_operator import conditions
from ner_operator.cluster import Cluster, placement
from ner_operator.conditions import Condition
from ner_operator.reconcile import Outcome, TargetResult

Status = dict[str, Any]


@dataclass(frozen=True)
class Report:
    """A status write: ``fields`` merge into ``status``, ``conditions`` are set in its list."""

    fields: Status
    conditions: tuple[Condition, ...]
    generation: int

    def conditions_after(
        self, current: Mapping[str, Any], *, now: str | None = None
    ) -> list[dict[str, Any]]:
        """``current``'s condition list with this report's conditions set."""
        return conditions.set_conditions(
            current.get("conditions") or [], self.conditions, generation=self.generation, now=now
        )

    def apply(self, body: kopf.RawBody) -> None:
        """Write this report into ``body`` as it is when the patch goes out (a kopf patch function).

        The fields and the conditions go out in one write: kopf sends ``patch.status`` as a merge
        patch before the functions' JSON patch, so fields put there would be visible for a moment
        with the previous conditions (phase Error while Degraded still says False).
        """
        current = body.setdefault("status", {})
        merge(current, self.fields)
        current["conditions"] = self.conditions_after(current)

    def changes(self, current: Mapping[str, Any]) -> bool:
        """Would writing this change ``current``, timestamps aside? Avoids a write per resync."""
        old = list(current.get("conditions") or [])
        return changed(self.fields, current) or _essence(
            self.conditions_after(current)
        ) != _essence(old)


def report(outcome: Outcome, current: Mapping[str, Any], *, now: str | None = None) -> Report:
    """The status write after a reconcile; ``current`` is the NerCluster's status as read."""
    now = now or conditions.now_iso()
    cluster = outcome.cluster
    regions = {name: result for name, result in outcome.results.items() if result.kind == "region"}
    failed = [r for r in outcome.results.values() if not r.ok]
    not_ready = [r for r in regions.values() if r.ok and not r.ready]
    updates = (
        _ready(failed, not_ready, regions),
        _progressing(outcome, not_ready),
        _degraded(failed, [r for r in outcome.stale.values() if not r.ok]),
    )
    fields: Status = {
        "observedGeneration": cluster.generation,
        "phase": _phase(cluster, outcome.failed, not_ready),
        "readySummary": _ready_summary(regions.values()),
        "regions": {
            **_removed_regions(cluster, current),
            **{name: _region_state(result, now) for name, result in regions.items()},
        },
        "targets": _placements(outcome),
    }
    return Report(fields, updates, cluster.generation)


def _placements(outcome: Outcome) -> dict[str, Any]:
    """status.targets: where each target's objects live now, so that a later removal or move
    of the target can clean them up (``Cluster.stale_targets``). A placement whose cleanup
    failed is kept (not in the patch) to be retried."""
    placements: dict[str, Any] = {name: None for name, result in outcome.stale.items() if result.ok}
    for name, target in outcome.cluster.targets().items():
        cleanup = outcome.stale.get(name)
        if cleanup is None or cleanup.ok:
            placements[name] = placement(target)
    return placements


def invalid_spec(message: str, generation: int) -> Report:
    """The status write for a spec the operator cannot reconcile (nothing was touched)."""
    updates = (
        Condition(conditions.READY, "False", "InvalidSpec", message),
        Condition(conditions.PROGRESSING, "False", "InvalidSpec", "fix the spec to continue"),
        Condition(conditions.DEGRADED, "True", "InvalidSpec", message),
    )
    return Report({"observedGeneration": generation, "phase": "Error"}, updates, generation)


def merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """Apply ``patch`` to ``target`` in place with JSON merge patch rules (RFC 7386): None
    deletes a key, maps merge key by key, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping):
            old = target.get(key)
            nested: dict[str, Any] = dict(old) if isinstance(old, Mapping) else {}
            merge(nested, value)
            target[key] = nested
        else:
            target[key] = value


def changed(patch: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Would ``patch`` change ``current``, timestamps aside? Avoids a status write per resync."""
    for key, value in patch.items():
        if key in _VOLATILE:
            continue
        old = current.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            if changed(value, old):
                return True
        elif _essence(value) != _essence(old):
            return True
    return False


# Refreshed by every report; a difference in them alone is not worth a write.
_VOLATILE = frozenset({"lastSyncTime"})


def _essence(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _essence(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_essence(v) for v in value]
    return value


def _region_state(result: TargetResult, now: str) -> dict[str, Any]:
    state: dict[str, Any] = {
        "reachable": result.reachable,
        "desiredReplicas": result.desired_replicas,
        "readyReplicas": result.ready_replicas,
        "lastError": None if result.error is None else _describe(result),
        "lastSyncTime": now,
    }
    if result.ok:
        # Where the objects now live: a later namespace change prunes this one.
        state["namespace"] = result.namespace
    return state


def _removed_regions(cluster: Cluster, current: Mapping[str, Any]) -> dict[str, None]:
    """Regions dropped from the spec: null deletes their key in a merge patch."""
    known = {r.name for r in cluster.spec.regions}
    return {name: None for name in (current.get("regions") or {}) if name not in known}


def _describe(result: TargetResult) -> str:
    assert result.error is not None
    return f"{result.error.reason}: {result.error.message}"


def _ready(
    failed: list[TargetResult], not_ready: list[TargetResult], regions: Mapping[str, TargetResult]
) -> Condition:
    if failed:
        names = ", ".join(r.target for r in failed)
        return Condition(conditions.READY, "False", "TargetFailed", f"not reconciled: {names}")
    if not_ready:
        detail = ", ".join(
            f"{r.target} {r.ready_replicas or 0}/{r.desired_replicas}" for r in not_ready
        )
        return Condition(conditions.READY, "False", "ReplicasNotReady", f"waiting for {detail}")
    names = ", ".join(sorted(regions))
    return Condition(conditions.READY, "True", "AllRegionsReady", f"ready in {names}")


def _progressing(outcome: Outcome, not_ready: list[TargetResult]) -> Condition:
    changes = outcome.changes
    if changes:
        summary = ", ".join(f"{c.action} {c.kind} in {target}" for target, c in changes[:6])
        more = f" and {len(changes) - 6} more" if len(changes) > 6 else ""
        return Condition(conditions.PROGRESSING, "True", "ObjectsChanged", summary + more)
    if not_ready:
        names = ", ".join(r.target for r in not_ready)
        return Condition(
            conditions.PROGRESSING, "True", "RollingOut", f"replicas starting in {names}"
        )
    return Condition(conditions.PROGRESSING, "False", "Reconciled", "every object is as specified")


def _degraded(failed: list[TargetResult], cleanups: list[TargetResult]) -> Condition:
    if not failed and not cleanups:
        return Condition(conditions.DEGRADED, "False", "AllTargetsReconciled", "")
    every = [*failed, *cleanups]
    reason = every[0].error.reason if len(every) == 1 and every[0].error else "TargetsFailed"
    problems = [f"{r.target}: {_describe(r)}" for r in failed]
    if failed:
        problems[-1] += " (nothing was deleted)"
    problems += [
        f"{r.target} (no longer a target, objects remain at {r.namespace}): {_describe(r)}"
        for r in cleanups
    ]
    return Condition(conditions.DEGRADED, "True", reason, "; ".join(problems))


def _phase(cluster: Cluster, failed: list[TargetResult], not_ready: list[TargetResult]) -> str:
    if failed:
        return "Degraded"
    if not_ready:
        return "Progressing"
    if cluster.spec.mode == "activePassive" and cluster.active_region != cluster.spec.primary.name:
        return "FailedOver"
    return "Ready"


def _ready_summary(results: Any) -> str:
    ready = sum(r.ready_replicas or 0 for r in results)
    desired = sum(r.desired_replicas or 0 for r in results)
    return f"{ready}/{desired}"
