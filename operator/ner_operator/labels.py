"""Labels and annotations that tie every created object to its NerCluster."""

from __future__ import annotations

NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
MANAGED_BY = "app.kubernetes.io/managed-by"
CLUSTER_UID = "nerha.dev/cluster-uid"
REGION = "nerha.dev/region"

APP = "ner"
OPERATOR = "ner-operator"

# Annotations on the NerCluster.
SKIP_REGION_CLEANUP = "nerha.dev/skip-region-cleanup"
SWITCH_TO = "nerha.dev/switch-to"  # implemented by the failover engineer

# Annotation on the Deployment: the replica count the operator last planned. With an HPA the
# live replicas belong to the HPA; the operator only writes them again when its plan changes.
PLANNED_REPLICAS = "nerha.dev/planned-replicas"


def owned(cluster_name: str, cluster_uid: str, target: str) -> dict[str, str]:
    """The labels of every object the operator creates for one NerCluster in one target."""
    return {
        NAME: APP,
        INSTANCE: cluster_name,
        MANAGED_BY: OPERATOR,
        CLUSTER_UID: cluster_uid,
        REGION: target,
    }


def pod_selector(cluster_name: str) -> dict[str, str]:
    """Selector of the inference pods; immutable on a Deployment, so only stable labels."""
    return {NAME: APP, INSTANCE: cluster_name}


def owner_selector(cluster_uid: str) -> str:
    """labelSelector that finds everything a NerCluster owns (pass it; filter client-side too)."""
    return f"{CLUSTER_UID}={cluster_uid}"


def is_owned_by(obj: dict[str, object], cluster_uid: str) -> bool:
    meta = obj.get("metadata")
    obj_labels = meta.get("labels") if isinstance(meta, dict) else None
    return isinstance(obj_labels, dict) and obj_labels.get(CLUSTER_UID) == cluster_uid
