"""How many replicas each region runs: the replicas rule of the NerCluster API."""

from __future__ import annotations

from dataclasses import dataclass

from ner_operator.cluster import Cluster
from ner_operator.spec import Region


@dataclass(frozen=True)
class ReplicaPlan:
    serving: bool  # takes traffic now (the active region, or every region in activeActive)
    replicas: int  # Deployment replicas the operator sets
    hpa_min: int
    hpa_max: int


def plan(cluster: Cluster, region: Region) -> ReplicaPlan:
    """Full capacity where the region serves, ``warmReplicas`` where it waits (activePassive).

    The serving region's HPA floor is its ``replicas``: after a failover the new active region
    must reach full capacity at once, not after the HPA notices the load (minutes). The passive
    region's floor is ``warmReplicas``. The ceiling never drops below the floor.
    """
    spec = cluster.spec
    serving = (
        spec.mode == "activeActive"
        or region.name == cluster.active_region
        or region.name in cluster.full_capacity
    )
    if serving:
        hpa_min = max(spec.autoscaling.min_replicas, region.replicas)
        # With an HPA the Deployment starts where the HPA would put it anyway.
        replicas = hpa_min if spec.autoscaling.enabled else region.replicas
    else:
        hpa_min = replicas = region.warm_replicas
    hpa_max = max(spec.autoscaling.max_replicas, hpa_min)
    return ReplicaPlan(serving=serving, replicas=replicas, hpa_min=hpa_min, hpa_max=hpa_max)
