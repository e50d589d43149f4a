"""Is a live object what the operator wants, and if not, which merge patch repairs it?

"Wants" means: every field the operator sets has its value in the live object. Fields the API
server or controllers add (defaults, clusterIP, status) are not drift. Lists compare item by item
and must have the same length, so an extra container or port is drift.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ner_operator import labels

Object = dict[str, Any]


def contains(live: Any, desired: Any, *, quantities: bool = False) -> bool:
    """True if ``live`` has every field of ``desired`` with the same value.

    Under a ``resources`` key values are quantities, which the API server stores in its own
    canonical form (``cpu: 1`` comes back as ``"1"``, ``"0.5"`` as ``"500m"``): equal amounts
    are not drift there."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            key in live and contains(live[key], value, quantities=quantities or key == "resources")
            for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(
                contains(a, b, quantities=quantities) for a, b in zip(live, desired, strict=True)
            )
        )
    if quantities and live != desired:
        amounts = quantity(live), quantity(desired)
        return None not in amounts and amounts[0] == amounts[1]
    return bool(live == desired) and type(live) is type(desired)


_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$")
_SUFFIX = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}  # fmt: skip


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes resource quantity (``"500m"``, ``"4Gi"``, ``2``, ``"1e3"``) as a number."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    match = _QUANTITY.match(str(value))
    if match is None:
        return None
    number, suffix = match[1], match[2] or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number + suffix)
        return Decimal(number) * _SUFFIX[suffix]
    except InvalidOperation:
        return None


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
