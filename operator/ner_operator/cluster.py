"""One NerCluster as the builders see it: identity, parsed spec, active region and targets.

A *target* is a cluster the operator writes objects to. Today the targets are the regions; the
gateway engineer adds the gateway's cluster as one more target (``kind="gateway"``) without
touching the reconcile loop, which treats every target alike.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ner_operator.spec import NerClusterSpec, Region, SecretKeyRef, parse_spec

TargetKind = Literal["region", "gateway"]
# Name of the gateway's target (also its objects' nerha.dev/region label); no region may use it.
GATEWAY_TARGET = "gateway"


@dataclass(frozen=True)
class Target:
    """A cluster to write to; ``kubeconfig_secret=None`` means the operator's own cluster."""

    name: str
    kind: TargetKind
    kubeconfig_secret: SecretKeyRef | None
    namespace: str


@dataclass(frozen=True)
class Cluster:
    name: str
    namespace: str
    uid: str
    generation: int
    spec: NerClusterSpec
    # status.activeRegion as written by the failover timer; validated in ``active_region``.
    status_active_region: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    # Where each target's objects were applied before (status.targets): a target that was removed
    # (a region dropped from the spec, the gateway disabled) or moved (another namespace or
    # kubeconfig Secret) is cleaned up there, see ``stale_targets``.
    placements: Mapping[str, Target] = field(default_factory=dict)
    # Regions kept at full capacity while the failover timer moves traffic (status.failover
    # .fullCapacity): a switch scales the target up before the gateway moves, and the source down
    # only after (ner_operator.failover).
    full_capacity: frozenset[str] = frozenset()

    @property
    def active_region(self) -> str:
        """The serving region: status.activeRegion if it names a region, else the primary."""
        if self.status_active_region and self.spec.region(self.status_active_region):
            return self.status_active_region
        return self.spec.primary.name

    def region_targets(self) -> dict[str, Target]:
        return {r.name: region_target(r) for r in self.spec.regions}

    def targets(self) -> dict[str, Target]:
        """Every cluster this NerCluster writes to, keyed by target name."""
        targets = self.region_targets()
        gateway = gateway_target(self)
        if gateway is not None:
            targets[gateway.name] = gateway
        return targets

    def stale_targets(self) -> dict[str, Target]:
        """Earlier placements no current target covers: their objects are to be removed."""
        current = self.targets()
        return {
            name: old
            for name, old in self.placements.items()
            if (new := current.get(name)) is None
            or (new.kubeconfig_secret, new.namespace) != (old.kubeconfig_secret, old.namespace)
        }


def region_target(region: Region) -> Target:
    return Target(region.name, "region", region.kubeconfig_secret, region.namespace)


def gateway_target(cluster: Cluster) -> Target | None:
    """The gateway's cluster as one more target, or None.

    Seam for the failover engineer: the target exists when ``spec.gateway.enabled`` and the module
    ``ner_operator.gateway`` (which builds the objects, see ``layout.gateway_objects``) exists.
    """
    gateway = cluster.spec.gateway
    if not gateway.enabled or importlib.util.find_spec("ner_operator.gateway") is None:
        return None
    return Target(
        GATEWAY_TARGET,
        "gateway",
        gateway.kubeconfig_secret,
        gateway.namespace or cluster.namespace,
    )


def cluster_from_body(body: Mapping[str, Any]) -> Cluster:
    """Build a Cluster from a NerCluster object; raises ``SpecError`` if the spec is invalid."""
    meta = body.get("metadata", {})
    status = body.get("status") or {}
    return Cluster(
        name=meta["name"],
        namespace=meta.get("namespace") or "default",
        uid=meta["uid"],
        generation=int(meta.get("generation") or 1),
        spec=parse_spec(body.get("spec") or {}),
        status_active_region=status.get("activeRegion"),
        annotations=dict(meta.get("annotations") or {}),
        full_capacity=frozenset(
            name
            for name in ((status.get("failover") or {}).get("fullCapacity") or ())
            if isinstance(name, str)
        ),
        placements=_placements(status.get("targets")),
    )


def placement(target: Target) -> dict[str, Any]:
    """How ``status.targets`` records where a target's objects live."""
    ref = target.kubeconfig_secret
    return {
        "kind": target.kind,
        "namespace": target.namespace,
        "kubeconfigSecret": None if ref is None else {"name": ref.name, "key": ref.key},
    }


def _placements(raw: Any) -> dict[str, Target]:
    placements: dict[str, Target] = {}
    for name, state in (raw or {}).items():
        if not isinstance(state, Mapping) or not isinstance(state.get("namespace"), str):
            continue  # removed (null) or unreadable: nothing to clean up there
        ref = state.get("kubeconfigSecret")
        secret = (
            SecretKeyRef(name=ref["name"], key=ref.get("key") or "kubeconfig")
            if isinstance(ref, Mapping) and isinstance(ref.get("name"), str)
            else None
        )
        kind: TargetKind = "gateway" if state.get("kind") == "gateway" else "region"
        placements[name] = Target(name, kind, secret, state["namespace"])
    return placements
