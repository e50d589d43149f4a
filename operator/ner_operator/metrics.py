"""Prometheus metrics of the reconcile loop, per NerCluster and target (region)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECONCILES = Counter(
    "ner_operator_reconcile_total",
    "Reconciles of one target of one NerCluster, by result (ok or error).",
    ["nercluster", "target", "result"],
)
RECONCILE_ERRORS = Counter(
    "ner_operator_reconcile_errors_total",
    "Failed reconciles of one target, by reason (Unreachable, KubeconfigInvalid, ...).",
    ["nercluster", "target", "reason"],
)
RECONCILE_SECONDS = Histogram(
    "ner_operator_reconcile_duration_seconds",
    "Duration of the reconcile of one target.",
    ["nercluster", "target"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OBJECT_CHANGES = Counter(
    "ner_operator_object_changes_total",
    "Objects created, patched (drift repaired) or deleted in the targets.",
    ["nercluster", "target", "action", "kind"],
)
