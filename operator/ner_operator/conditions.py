"""Conditions in the Kubernetes shape (type/status/reason/message/lastTransitionTime/...).

Two writers share ``status.conditions``: the reconcile (Ready, Progressing, Degraded) and the
failover timer (FailedOver). JSON merge patch replaces lists whole, so a writer that sent the list
as it had read it could undo the other's change made meanwhile. Each writer therefore sends only
its own types, through ``setter``: a kopf patch function, applied to the freshest body kopf has
and sent as a JSON patch guarded by ``resourceVersion`` (on a conflict kopf applies it again to
the newer body on the next cycle).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import kopf

ConditionStatus = Literal["True", "False", "Unknown"]

READY = "Ready"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
FAILED_OVER = "FailedOver"


@dataclass(frozen=True)
class Condition:
    type: str
    status: ConditionStatus
    reason: str
    message: str


def now_iso() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: Iterable[Mapping[str, Any]],
    condition: Condition,
    *,
    generation: int,
    now: str | None = None,
) -> list[dict[str, Any]]:
    """A new list with ``condition`` set and every other type kept as it was.

    ``lastTransitionTime`` changes only when the status flips: a reason or message update of a
    condition that stays True is not a transition.
    """
    result: list[dict[str, Any]] = []
    found = False
    for existing in conditions:
        if existing.get("type") != condition.type:
            result.append(dict(existing))
            continue
        found = True
        flipped = existing.get("status") != condition.status
        previous_time = existing.get("lastTransitionTime")
        result.append(
            _render(
                condition,
                generation,
                (now or now_iso()) if flipped or not previous_time else str(previous_time),
            )
        )
    if not found:
        result.append(_render(condition, generation, now or now_iso()))
    return result


def set_conditions(
    conditions: Iterable[Mapping[str, Any]],
    updates: Iterable[Condition],
    *,
    generation: int,
    now: str | None = None,
) -> list[dict[str, Any]]:
    result = [dict(c) for c in conditions]
    for update in updates:
        result = set_condition(result, update, generation=generation, now=now)
    return result


def setter(
    updates: Iterable[Condition], *, generation: int, now: str | None = None
) -> kopf.PatchFn:
    """A kopf patch function (``patch.fns``) that sets ``updates`` in the body's conditions as
    they are when the patch goes out, keeping every other type."""
    pending = tuple(updates)

    def apply(body: kopf.RawBody) -> None:
        status = body.setdefault("status", {})
        status["conditions"] = set_conditions(
            status.get("conditions") or [], pending, generation=generation, now=now
        )

    return apply


def find(conditions: Iterable[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def is_true(conditions: Iterable[Mapping[str, Any]], type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.get("status") == "True"


def _render(condition: Condition, generation: int, transition_time: str) -> dict[str, Any]:
    return {
        "type": condition.type,
        "status": condition.status,
        "reason": condition.reason,
        "message": condition.message,
        "lastTransitionTime": transition_time,
        "observedGeneration": generation,
    }
