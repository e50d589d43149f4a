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
    # Namespaces each region's objects were applied to before (status.regions[*].namespace), so a
    # namespace change can remove the objects left in the old one.
    previous_namespaces: Mapping[str, str] = field(default_factory=dict)
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
    regions_status = status.get("regions") or {}
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
        previous_namespaces={
            name: state["namespace"]
            for name, state in regions_status.items()
            if isinstance(state, Mapping) and isinstance(state.get("namespace"), str)
        },
    )
