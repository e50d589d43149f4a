"""Every Kubernetes API call the operator makes, for least-privilege RBAC (install engineer).

``MANAGEMENT_API_CALLS``: the cluster the operator runs in, namespace-scoped to the NerClusters'
namespace. ``TARGET_API_CALLS``: each region (and the gateway's cluster), through the kubeconfig
in the region's Secret. A test checks these lists against the calls the operator really makes.
"""

from __future__ import annotations

from typing import NamedTuple


class ApiCall(NamedTuple):
    group: str  # "" is the core group
    resource: str
    verbs: tuple[str, ...]
    why: str


MANAGEMENT_API_CALLS: tuple[ApiCall, ...] = (
    ApiCall(
        "nerha.dev", "nerclusters", ("get", "list", "watch", "patch"), "kopf: watch, finalizer"
    ),
    ApiCall("nerha.dev", "nerclusters/status", ("get", "patch"), "status subresource"),
    ApiCall("", "secrets", ("get",), "kubeconfig Secrets of the regions (regions.ClusterClients)"),
    ApiCall("", "events", ("create",), "kopf.info/warn and handler results post core/v1 Events"),
    ApiCall("kopf.dev", "kopfpeerings", ("get", "list", "watch", "patch"), "kopf peering"),
    ApiCall("", "namespaces", ("list", "watch"), "kopf's namespace observer (cluster-scoped)"),
    ApiCall(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        ("get", "list", "watch"),
        "kopf resource discovery (cluster-scoped)",
    ),
)

# Per target cluster, in the target namespace (objects) and cluster-wide (namespaces).
TARGET_API_CALLS: tuple[ApiCall, ...] = (
    ApiCall("", "namespaces", ("get", "create"), "the target namespace is created if missing"),
    ApiCall("apps", "deployments", ("get", "list", "create", "patch", "delete"), "inference pods"),
    ApiCall("", "services", ("get", "list", "create", "patch", "delete"), "per-region Service"),
    ApiCall(
        "autoscaling",
        "horizontalpodautoscalers",
        ("get", "list", "create", "patch", "delete"),
        "per-region HPA",
    ),
    ApiCall(
        "policy",
        "poddisruptionbudgets",
        ("get", "list", "create", "patch", "delete"),
        "per-region PDB",
    ),
    ApiCall("", "configmaps", ("get", "list", "create", "patch", "delete"), "gateway nginx config"),
)
