"""Is a region serving correct answers? ``GET /ready`` plus a golden inference on its endpoint.

A region that answers 200 with wrong entities, inconsistent offsets or malformed JSON is down as
far as users are concerned, so the golden check compares the answer with known entities. The
operator supplies the control-plane facts (API server reachable, Deployment available); they are
recorded but never make the data plane unhealthy (see ``failover``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ner_operator.spec import Golden as GoldenSpec

ENTITY_TYPES = ("PER", "LOC", "ORG")


@dataclass(frozen=True)
class GoldenEntity:
    type: str
    span: str


@dataclass(frozen=True)
class Golden:
    """A fixed sentence and the entities any correct model finds in it."""

    text: str
    entities: tuple[GoldenEntity, ...]

    @classmethod
    def from_spec(cls, spec: GoldenSpec) -> Golden:
        return cls(spec.text, tuple(GoldenEntity(e.type, e.span) for e in spec.entities))


DEFAULT_GOLDEN = Golden.from_spec(GoldenSpec())


@dataclass(frozen=True)
class ProbeResult:
    region: str
    healthy: bool  # data plane and control plane both fine
    reason: str
    latency_ms: float | None  # of the golden inference; None when it was not answered
    data_plane_ok: bool
    control_plane_ok: bool
    checked_at: float  # wall clock, seconds since the epoch

    def to_status(self) -> dict[str, Any]:
        """The fields of ``status.health.<region>`` this probe owns (counters come from the
        state machine)."""
        return {
            "healthy": self.healthy,
            "reason": self.reason,
            "latencyMs": None if self.latency_ms is None else round(self.latency_ms, 1),
            "dataPlaneOk": self.data_plane_ok,
            "controlPlaneOk": self.control_plane_ok,
            "checkedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.checked_at)),
        }


async def probe_region(
    client: httpx.AsyncClient,
    region: str,
    endpoint: str | None,
    *,
    golden: Golden = DEFAULT_GOLDEN,
    timeout_s: float = 2.0,  # per request (/ready, then /predict)
    api_reachable: bool = True,
    deployment_available: bool = True,
) -> ProbeResult:
    """Probe one region's endpoint; never raises for anything the region does."""
    control_ok = api_reachable and deployment_available
    control_reason = (
        ""
        if control_ok
        else "region API unreachable"
        if not api_reachable
        else "Deployment not available"
    )
    if endpoint is None:
        data_ok, reason, latency = False, "no endpoint in the spec: cannot probe", None
    else:
        data_ok, reason, latency = await _probe_data_plane(client, endpoint, golden, timeout_s)
    if data_ok and not control_ok:
        reason = f"serving correct answers, but {control_reason} (Degraded)"
    elif not control_ok:
        reason = f"{reason}; {control_reason}"
    return ProbeResult(
        region=region,
        healthy=data_ok and control_ok,
        reason=reason,
        latency_ms=latency,
        data_plane_ok=data_ok,
        control_plane_ok=control_ok,
        checked_at=time.time(),
    )


async def _probe_data_plane(
    client: httpx.AsyncClient, endpoint: str, golden: Golden, timeout_s: float
) -> tuple[bool, str, float | None]:
    base = endpoint.rstrip("/")
    try:
        ready = await client.get(f"{base}/ready", timeout=timeout_s)
        if ready.status_code != 200:
            return False, f"GET /ready answered {ready.status_code}: {_snippet(ready.text)}", None
        started = time.perf_counter()
        answer = await client.post(f"{base}/predict", json={"text": golden.text}, timeout=timeout_s)
        latency = (time.perf_counter() - started) * 1000
    except httpx.TimeoutException as e:
        return False, f"timed out after {timeout_s:g} s ({type(e).__name__})", None
    except httpx.HTTPError as e:
        return False, f"{type(e).__name__}: {e or 'no answer'}", None
    if answer.status_code != 200:
        message = f"POST /predict answered {answer.status_code}: {_snippet(answer.text)}"
        return False, message, latency
    problem = check_answer(golden, answer.content)
    if problem is not None:
        return False, f"golden inference wrong: {problem}", latency
    return True, f"ready; golden inference correct in {latency:.0f} ms", latency


def check_answer(golden: Golden, body: bytes | str) -> str | None:
    """What is wrong with a ``/predict`` answer for ``golden.text``, or None if it is right.

    Right means: a JSON object with ``entities`` (each with a known type and ``span`` equal to
    ``text[start:end]``) and a ``model`` string, containing every golden entity. More entities
    than the golden ones are accepted (a better model may find more); a golden span reported
    with another type is wrong.
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"not JSON: {_snippet(body)}"
    if not isinstance(payload, Mapping):
        return f"not a JSON object: {_snippet(body)}"
    entities = payload.get("entities")
    if not isinstance(entities, list):
        return "no 'entities' list"
    if not isinstance(payload.get("model"), str):
        return "no 'model' string"
    found: Counter[tuple[str, str]] = Counter()
    for entity in entities:
        problem = _entity_problem(golden.text, entity)
        if problem is not None:
            return problem
        found[(entity["type"], entity["span"])] += 1
    return _missing(golden.entities, found)


def _entity_problem(text: str, entity: Any) -> str | None:
    if not isinstance(entity, Mapping):
        return f"entity is not an object: {entity!r}"
    kind, start, end, span = (entity.get(k) for k in ("type", "start", "end", "span"))
    if kind not in ENTITY_TYPES:
        return f"entity type {kind!r} is not one of {', '.join(ENTITY_TYPES)}"
    if not (isinstance(start, int) and isinstance(end, int) and isinstance(span, str)):
        return f"entity {entity!r} lacks integer start/end or a string span"
    if not 0 <= start < end <= len(text):
        return f"entity offsets {start}..{end} outside the text (length {len(text)})"
    if text[start:end] != span:
        return f"span {span!r} is not text[{start}:{end}] = {text[start:end]!r}"
    return None


def _missing(expected: Sequence[GoldenEntity], found: Counter[tuple[str, str]]) -> str | None:
    problems = []
    for entity in expected:
        if found[(entity.type, entity.span)] > 0:
            continue
        other = sorted(t for t, s in found if s == entity.span)
        problems.append(
            f"{entity.span} found as {'/'.join(other)} instead of {entity.type}"
            if other
            else f"missing {entity.type} {entity.span}"
        )
    return "; ".join(problems) or None


def _snippet(text: bytes | str, limit: int = 120) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
