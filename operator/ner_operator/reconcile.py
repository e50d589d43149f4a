"""Reconcile one NerCluster: desired objects per target -> apply to each target -> results.

Targets are reconciled concurrently and independently: an unreachable region, a bad kubeconfig
or a quota error in one of them is recorded in its ``TargetResult`` and never stops the others.
Nothing is deleted unless the target answered: pruning happens only after a successful apply and
a successful listing, and only of objects that carry this NerCluster's UID label.

The failover timer calls ``reconcile`` after it changes ``status.activeRegion``: the replica plan
follows the active region, so the new active region is scaled up in the same pass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ner_operator import diff, labels, layout, metrics
from ner_operator.cluster import Cluster, Target, TargetKind
from ner_operator.regions import (
    KINDS,
    OWNED_KINDS,
    ClusterClients,
    TargetClient,
    TargetError,
    classify,
)

Object = dict[str, Any]
Action = Literal["created", "patched", "deleted"]


@dataclass(frozen=True)
class Change:
    action: Action
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True)
class TargetResult:
    target: str
    kind: TargetKind
    namespace: str
    changes: tuple[Change, ...] = ()
    error: TargetError | None = None
    desired_replicas: int | None = None  # of the target's Deployment, as the API server has it
    ready_replicas: int | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def reachable(self) -> bool:
        # Kubeconfig problems are found before any request to the region: unknown, not unreachable.
        return self.error is None or self.error.reason not in ("Unreachable",)

    @property
    def ready(self) -> bool:
        return (
            self.ok
            and self.desired_replicas is not None
            and (self.ready_replicas or 0) >= self.desired_replicas
        )


@dataclass(frozen=True)
class Outcome:
    cluster: Cluster
    results: dict[str, TargetResult] = field(default_factory=dict)
    # Cleanups of earlier placements (``Cluster.stale_targets``), by target name.
    stale: dict[str, TargetResult] = field(default_factory=dict)

    @property
    def failed(self) -> list[TargetResult]:
        return [r for r in (*self.results.values(), *self.stale.values()) if not r.ok]

    @property
    def transient_failure(self) -> bool:
        return any(r.error is not None and r.error.transient for r in self.failed)

    @property
    def changes(self) -> list[tuple[str, Change]]:
        every = (*self.results.values(), *self.stale.values())
        return [(r.target, c) for r in every for c in r.changes]


@dataclass
class Reconciler:
    """What a reconcile needs besides the NerCluster: clients and one lock per NerCluster."""

    clients: ClusterClients
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    # (NerCluster uid, target) -> the last error reported as an Event, to post each one once.
    last_errors: dict[tuple[str, str], str] = field(default_factory=dict)

    def lock(self, cluster_uid: str) -> asyncio.Lock:
        return self.locks.setdefault(cluster_uid, asyncio.Lock())


async def reconcile(cluster: Cluster, reconciler: Reconciler) -> Outcome:
    """Bring every target of ``cluster`` to its desired state; report per target.

    Serialised per NerCluster (create/update handlers, the resync timer and the failover timer may
    all call it), concurrent across targets.
    """
    desired = layout.desired_objects(cluster)
    targets = cluster.targets()
    stale = cluster.stale_targets()
    async with reconciler.lock(cluster.uid):
        results, removed = await asyncio.gather(
            asyncio.gather(
                *(
                    sync_target(reconciler.clients, cluster, target, desired.get(name, []))
                    for name, target in targets.items()
                )
            ),
            _remove_everything(reconciler, cluster, stale),
        )
    return Outcome(cluster, {r.target: r for r in results}, removed)


async def _remove_everything(
    reconciler: Reconciler, cluster: Cluster, targets: Mapping[str, Target]
) -> dict[str, TargetResult]:
    results = await asyncio.gather(
        *(
            sync_target(reconciler.clients, cluster, target, (), ensure_namespace=False)
            for target in targets.values()
        )
    )
    return {r.target: r for r in results}


async def sync_target(
    clients: ClusterClients,
    cluster: Cluster,
    target: Target,
    objects: Sequence[Object],
    *,
    ensure_namespace: bool = True,
) -> TargetResult:
    """Apply ``objects`` to one target and prune the owned objects not among them."""
    started = time.perf_counter()
    changes: list[Change] = []
    deployment: Object | None = None
    client: TargetClient | None = None
    try:
        client = await clients.for_target(target, cluster.namespace)
        if ensure_namespace:
            await client.ensure_namespace(target.namespace)
        # The objects do not depend on each other (the HPA may name a Deployment that does
        # not exist yet): applied concurrently, a reconcile costs one round trip, not four.
        applied = await asyncio.gather(*(apply(client, cluster, obj) for obj in objects))
        for obj, (live, change) in zip(objects, applied, strict=True):
            changes.extend([change] if change else [])
            if obj["kind"] == "Deployment":
                deployment = live
        changes.extend(await prune(client, cluster, target, objects))
    except Exception as e:  # one target's failure must not stop the others
        if client is not None:
            client.known_namespaces.clear()
        error = e if isinstance(e, TargetError) else classify(e, target.name)
        result = TargetResult(target.name, target.kind, target.namespace, tuple(changes), error)
    else:
        result = TargetResult(
            target.name,
            target.kind,
            target.namespace,
            tuple(changes),
            desired_replicas=_replicas(deployment, "spec", "replicas"),
            ready_replicas=_replicas(deployment, "status", "readyReplicas"),
        )
    result = _timed(result, time.perf_counter() - started)
    _record(cluster, result)
    return result


async def apply(
    client: TargetClient, cluster: Cluster, desired: Object
) -> tuple[Object, Change | None]:
    """Create the object, or patch it if it drifted; refuse to touch someone else's object."""
    kind = KINDS[desired["kind"]]
    meta = desired["metadata"]
    live = await client.get(kind, meta["namespace"], meta["name"])
    if live is None:
        return await client.create(desired), Change(
            "created", kind.kind, meta["namespace"], meta["name"]
        )
    if not labels.is_owned_by(live, cluster.uid):
        owner = (live.get("metadata", {}).get("labels") or {}).get(labels.CLUSTER_UID)
        who = f"NerCluster uid {owner}" if owner else "something else (no nerha.dev labels)"
        raise TargetError(
            "NameConflict",
            f"{kind.kind} {meta['namespace']}/{meta['name']} exists and belongs to {who}; "
            "delete or rename it",
            transient=False,
        )
    patch = diff.repair_patch(desired, live, hpa_owns_replicas=cluster.spec.autoscaling.enabled)
    if patch is None:
        return live, None
    patched = await client.merge_patch(kind, meta["namespace"], meta["name"], patch)
    return patched, Change("patched", kind.kind, meta["namespace"], meta["name"])


async def prune(
    client: TargetClient, cluster: Cluster, target: Target, desired: Sequence[Object]
) -> list[Change]:
    """Delete this target's owned objects that are no longer desired (e.g. the HPA when
    autoscaling is turned off; everything, for a stale target)."""
    keep = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in desired}
    namespace = target.namespace
    kinds = [KINDS[name] for name in OWNED_KINDS]
    listings = await asyncio.gather(
        *(client.list_owned(kind, namespace, cluster.uid) for kind in kinds)
    )
    changes: list[Change] = []
    for kind, listing in zip(kinds, listings, strict=True):
        for live in listing:
            meta = live.get("metadata", {})
            if (meta.get("labels") or {}).get(labels.REGION) != target.name:
                continue  # another target of the same NerCluster sharing this cluster
            if (kind.kind, namespace, meta.get("name")) in keep:
                continue
            if await client.delete(kind, namespace, meta["name"]):
                changes.append(Change("deleted", kind.kind, namespace, meta["name"]))
    return changes


def _replicas(obj: Mapping[str, Any] | None, section: str, key: str) -> int | None:
    if obj is None:
        return None
    value = (obj.get(section) or {}).get(key)
    if value is None:
        return 0 if section == "status" else None
    return int(value)


def _timed(result: TargetResult, seconds: float) -> TargetResult:
    return TargetResult(
        result.target,
        result.kind,
        result.namespace,
        result.changes,
        result.error,
        result.desired_replicas,
        result.ready_replicas,
        seconds,
    )


def _record(cluster: Cluster, result: TargetResult) -> None:
    who = f"{cluster.namespace}/{cluster.name}"
    metrics.RECONCILE_SECONDS.labels(who, result.target).observe(result.seconds)
    metrics.RECONCILES.labels(who, result.target, "ok" if result.ok else "error").inc()
    if result.error is not None:
        metrics.RECONCILE_ERRORS.labels(who, result.target, result.error.reason).inc()
    for change in result.changes:
        metrics.OBJECT_CHANGES.labels(who, result.target, change.action, change.kind).inc()


async def remove_all(cluster: Cluster, reconciler: Reconciler) -> Outcome:
    """Delete every object of ``cluster`` in every target, found by its UID label.

    Per target and independent like ``reconcile``: a target that cannot be reached keeps its
    error in the outcome, and the caller (the deletion handler) retries.
    """
    async with reconciler.lock(cluster.uid):
        results, removed = await asyncio.gather(
            _remove_everything(reconciler, cluster, cluster.targets()),
            _remove_everything(reconciler, cluster, cluster.stale_targets()),
        )
    reconciler.locks.pop(cluster.uid, None)
    return Outcome(cluster, results, removed)
