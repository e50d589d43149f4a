"""One reconcile of one NerCluster as the kopf handlers (and the failover timer) run it.

``reconcile_nercluster`` = read the spec -> ``reconcile.reconcile`` (every target, independently)
-> write ``status`` into kopf's patch (one JSON patch to the ``/status`` subresource) -> post
Kubernetes Events for what users must see. It is the reusable entry point for the failover
timer: after it sets ``patch.status["activeRegion"]``, it calls this with ``active_region=`` the
new region, and the replicas move in the same pass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import kopf

from ner_operator import status
from ner_operator.cluster import Cluster, cluster_from_body
from ner_operator.reconcile import Outcome, Reconciler, reconcile
from ner_operator.spec import SpecError

logger = logging.getLogger(__name__)


def reconciler_from(memo: Any) -> Reconciler:
    """The operator's Reconciler (clients of every cluster), kept in kopf's memo at startup."""
    reconciler = getattr(memo, "reconciler", None)
    if not isinstance(reconciler, Reconciler):
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return reconciler


def read_cluster(body: Mapping[str, Any], *, active_region: str | None = None) -> Cluster:
    """The NerCluster as the builders see it; raises SpecError for a spec they cannot use."""
    cluster = cluster_from_body(body)
    if active_region is not None:
        cluster = replace(cluster, status_active_region=active_region)
    return cluster


async def reconcile_nercluster(
    body: kopf.Body,
    patch: kopf.Patch,
    reconciler: Reconciler,
    *,
    active_region: str | None = None,
) -> Outcome | None:
    """Reconcile every target and report into ``patch.status``; None if the spec is invalid.

    Never raises for a target's failure: the outcome says which target failed and why.
    """
    current: Mapping[str, Any] = body.get("status") or {}
    try:
        cluster = read_cluster(body, active_region=active_region)
    except SpecError as e:
        generation = int(body.get("metadata", {}).get("generation") or 0)
        invalid = status.invalid_spec(str(e), generation)
        if invalid.changes(current):
            kopf.event(body, type="Warning", reason="InvalidSpec", message=str(e))
            write_status(patch, invalid)
        return None
    outcome = await reconcile(cluster, reconciler)
    report = status.report(outcome, current)
    # Written only when something but the timestamps changed: no write (and no watch event for
    # every operator replica) per resync. lastSyncTime is therefore the time of the last change.
    if report.changes(current):
        write_status(patch, report)
    _post_events(body, outcome, reconciler)
    return outcome


def write_status(patch: kopf.Patch, report: status.Report) -> None:
    patch.fns.append(report.apply)


def _post_events(body: kopf.Body, outcome: Outcome, reconciler: Reconciler) -> None:
    # kopf.event, not kopf.info: the operator posts kopf's own log lines as Events only from
    # WARNING up (handlers.start), so that every timer run does not become an Event.
    uid = outcome.cluster.uid
    for name, result in outcome.results.items():
        if result.changes:
            done = ", ".join(f"{c.action} {c.kind}" for c in result.changes)
            kopf.event(body, type="Normal", reason="Reconciled", message=f"{name}: {done}")
        previous = reconciler.last_errors.get((uid, name))
        if result.error is not None:
            message = f"{name}: {result.error.reason}: {result.error.message}"
            if previous != message:  # once per new error, not once per resync
                kopf.event(body, type="Warning", reason=result.error.reason, message=message)
            reconciler.last_errors[(uid, name)] = message
        elif previous is not None:
            kopf.event(body, type="Normal", reason="Recovered", message=f"{name}: reconciled again")
            del reconciler.last_errors[(uid, name)]
