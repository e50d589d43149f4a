"""Is a live object what the operator wants, and if not, which merge patch repairs it?

"Wants" means: every field the operator sets has its value in the live object. Fields the API
server or controllers add (defaults, clusterIP, status) are not drift. Lists compare item by item
and must have the same length, so an extra container or port is drift.
"""

from __future__ import annotations

from typing import Any

from ner_operator import labels

Object = dict[str, Any]


def contains(live: Any, desired: Any) -> bool:
    """True if ``live`` has every field of ``desired`` with the same value."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            key in live and contains(live[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(a, b) for a, b in zip(live, desired, strict=True))
        )
    return bool(live == desired) and type(live) is type(desired)


def repair_patch(
    desired: Object, live: Object, *, hpa_owns_replicas: bool = False
) -> Object | None:
    """The JSON merge patch that makes ``live`` match ``desired``, or None if it already does.

    With an HPA, a Deployment's live ``spec.replicas`` is the HPA's business; the operator writes
    it only when its own plan changes (the planned-replicas annotation differs), e.g. on failover.
    """
    wanted = _owned_fields(desired)
    if hpa_owns_replicas and _planned(live) == _planned(desired):
        wanted["spec"] = {k: v for k, v in wanted["spec"].items() if k != "replicas"}
    if contains(live, wanted):
        return None
    return wanted


def _owned_fields(desired: Object) -> Object:
    meta = desired["metadata"]
    owned: Object = {"metadata": {"labels": dict(meta.get("labels") or {})}}
    if meta.get("annotations"):
        owned["metadata"]["annotations"] = dict(meta["annotations"])
    for key, value in desired.items():
        if key not in ("apiVersion", "kind", "metadata", "status"):
            owned[key] = value
    return owned


def _planned(obj: Object) -> str | None:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    value = annotations.get(labels.PLANNED_REPLICAS)
    return str(value) if value is not None else None
