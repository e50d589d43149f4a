"""The failover timer: probe -> ``failover.decide`` -> act -> record, per NerCluster.

Thin on purpose: the decisions are ``failover.decide`` (pure), the actions are the ordinary
reconcile with ``status.activeRegion`` / ``status.failover.fullCapacity`` set from the decision
(the replica plan and the gateway's config follow them), and the probes are ``health``.

One kopf timer ticks every ``NER_OPERATOR_FAILOVER_TICK_SECONDS`` (0.5 s) and probes a NerCluster
when its ``spec.failover.probeIntervalSeconds`` have passed: kopf's timer interval is fixed when
the handler is registered, the probe interval is per NerCluster. The state lives in this process
between ticks and in ``status.failover`` for the next operator (restart, or another replica that
takes over through kopf peering; only one replica runs timers at a time).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import kopf
from prometheus_client import Counter, Gauge, Histogram
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ner_operator import API_GROUP, API_VERSION, PLURAL, conditions, failover, health, labels
from ner_operator.cluster import GATEWAY_TARGET, Cluster, region_target
from ner_operator.reconcile import Outcome, Reconciler
from ner_operator.regions import KINDS
from ner_operator.replicas import plan
from ner_operator.spec import Region, SpecError
from ner_operator.sync import read_cluster, reconcile_nercluster, reconciler_from


class FlowConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NER_OPERATOR_FAILOVER_", frozen=True)

    tick_seconds: float = Field(
        default=0.5, gt=0, description="how often the timer looks whether a probe is due"
    )


CONFIG = FlowConfig()
# httpx logs every request at INFO: two probes per region every 2 s would bury the operator's log.
logging.getLogger("httpx").setLevel(logging.WARNING)
RESOURCE = (API_GROUP, API_VERSION, PLURAL)

FAILOVERS = Counter(
    "ner_operator_failovers_total",
    "Switches of the serving region started, by kind (failover, failback, switchover).",
    ["nercluster", "kind", "source", "target"],
)
REGION_HEALTHY = Gauge(
    "ner_operator_region_healthy",
    "1 if the region's last probe passed, per plane (data: /ready + golden inference; control: "
    "API server and Deployment).",
    ["nercluster", "region", "plane"],
)
PROBE_SECONDS = Histogram(
    "ner_operator_probe_latency_seconds",
    "Latency of the golden inference through the region's endpoint.",
    ["nercluster", "region"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ACTIVE_REGION = Gauge(
    "ner_operator_active_region", "1 for the region serving traffic.", ["nercluster", "region"]
)


@dataclass
class Tracker:
    """What one operator remembers of one NerCluster between ticks."""

    state: failover.State
    revision: int = 0  # of status.failover as this process last wrote it
    last_probe: float = 0.0  # monotonic
    last_warning: str = ""  # not to repeat the same "staying" Event every probe
    degraded: tuple[str, ...] = ()
    # The nerha.dev/switch-to value answered last: ignored until the annotation's removal (sent
    # with the answer) comes back through the watch, so it is never answered twice.
    answered: str | None = None


_TRACKERS: dict[str, Tracker] = {}
_HTTP: dict[int, httpx.AsyncClient] = {}  # per event loop


def _http() -> httpx.AsyncClient:
    loop = id(asyncio.get_running_loop())
    if loop not in _HTTP:
        # No connection reuse: a probe must see a region the way a new client would.
        limits = httpx.Limits(max_keepalive_connections=0)
        _HTTP[loop] = httpx.AsyncClient(limits=limits, follow_redirects=False)
    return _HTTP[loop]


@kopf.on.cleanup()
async def close_http(**_: Any) -> None:
    client = _HTTP.pop(id(asyncio.get_running_loop()), None)
    if client is not None:
        await client.aclose()


@kopf.timer(*RESOURCE, interval=CONFIG.tick_seconds, id="failover")
async def failover_timer(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    try:
        cluster = read_cluster(body)
    except SpecError:
        return  # the reconcile handlers report the spec error
    spec = cluster.spec
    tracker = _tracker(cluster, body.get("status") or {})
    now = time.monotonic()
    if now - tracker.last_probe < spec.failover.probe_interval_seconds - CONFIG.tick_seconds / 2:
        return
    tracker.last_probe = now
    reconciler = reconciler_from(memo)
    results = await asyncio.gather(*(_probe(reconciler, cluster, r) for r in spec.regions))
    _observe(cluster, results)
    probes = [
        failover.Probe(r.region, r.data_plane_ok, r.control_plane_ok, r.reason) for r in results
    ]
    requested = _new_request(cluster, tracker)
    if spec.mode != "activePassive":
        _record_health(patch, results, tracker.state)  # every region serves: nothing to decide
        if requested is not None:
            why = f"mode is {spec.mode}: every region serves, there is nothing to switch"
            _answer(
                body,
                patch,
                tracker,
                requested,
                result="Refused",
                message=why,
                reason="SwitchoverRefused",
            )
        return
    # A request that arrives while a switch runs waits for it to finish (decide ignores it).
    answering = requested is not None and tracker.state.switch is None
    state, decision = failover.decide(
        tracker.state,
        probes,
        failover.Policy.from_spec(spec.failover),
        time.time(),
        home=spec.primary.name,
        requested=requested,
    )
    decisions = [decision]
    state, _outcome = await _act(
        body, patch, reconciler=reconciler, cluster=cluster, state=state, decisions=decisions
    )
    tracker.state = state
    tracker.revision += 1
    if answering:
        tracker.last_warning = ""  # a refusal answers this request: never deduplicated
    _record(
        body,
        patch,
        cluster=cluster,
        tracker=tracker,
        results=results,
        decisions=decisions,
    )
    if answering and requested is not None:
        result, message = _verdict(requested, decision)
        # Accepted and refused requests already have their Event (...Started, SwitchoverRefused).
        reason = "SwitchoverNotNeeded" if result == "NotNeeded" else None
        _answer(body, patch, tracker, requested, result=result, message=message, reason=reason)


def _new_request(cluster: Cluster, tracker: Tracker) -> str | None:
    """The ``nerha.dev/switch-to`` region not answered yet, or None."""
    requested = cluster.annotations.get(labels.SWITCH_TO) or None
    if requested is None:
        tracker.answered = None
        return None
    return None if requested == tracker.answered else requested


def _verdict(requested: str, decision: failover.Decision) -> tuple[str, str]:
    if decision.action in ("failback", "switchover") and decision.target == requested:
        return "Accepted", decision.reason
    if any(event.reason == "SwitchoverRefused" for event in decision.events):
        return "Refused", decision.reason
    return "NotNeeded", f"{requested} is already the active region"


def _answer(
    body: kopf.Body,
    patch: kopf.Patch,
    tracker: Tracker,
    requested: str,
    *,
    result: str,
    message: str,
    reason: str | None,
) -> None:
    """Answer a switch request once: record it, and remove the annotation.

    The annotation is a one-shot request, like ``kubectl annotate`` asks for: left in place it
    would be honoured again later, behind the user's back (a manual failback replayed the moment
    the region recovers; a switchover repeated after every automatic failback).
    """
    tracker.answered = requested
    patch.meta.annotations[labels.SWITCH_TO] = None
    persisted = dict(patch.status.get("failover") or {})
    persisted["request"] = {
        "region": requested,
        "result": result,
        "message": message,
        "time": _iso(time.time()),
    }
    patch.status["failover"] = persisted
    if reason is not None:
        kind = "Warning" if result == "Refused" else "Normal"
        kopf.event(body, type=kind, reason=reason, message=f"{labels.SWITCH_TO}: {message}")


def _tracker(cluster: Cluster, status: Mapping[str, Any]) -> Tracker:
    persisted = status.get("failover") or {}
    revision = int(persisted.get("revision") or 0) if isinstance(persisted, Mapping) else 0
    tracker = _TRACKERS.get(cluster.uid)
    if tracker is None or revision > tracker.revision:
        # First tick of this process, or another operator wrote a newer state (peering).
        state = failover.State.from_dict(persisted, default_active=cluster.active_region)
        tracker = _TRACKERS[cluster.uid] = Tracker(state=state, revision=revision)
    return tracker


async def _probe(reconciler: Reconciler, cluster: Cluster, region: Region) -> health.ProbeResult:
    reachable, available = await _control_plane(reconciler, cluster, region)
    settings = cluster.spec.failover
    return await health.probe_region(
        _http(),
        region.name,
        region.endpoint,
        golden=health.Golden.from_spec(settings.golden),
        timeout_s=settings.probe_timeout_seconds,
        api_reachable=reachable,
        deployment_available=available,
    )


async def _control_plane(
    reconciler: Reconciler, cluster: Cluster, region: Region
) -> tuple[bool, bool]:
    """(API server answered, Deployment available) for one region."""
    try:
        client = await reconciler.clients.for_target(region_target(region), cluster.namespace)
        deployment = await client.get(KINDS["Deployment"], region.namespace, cluster.name)
    except Exception:  # any failure to read the region is "unreachable" here; details: reconcile
        return False, False
    return True, deployment is not None and _available(deployment)


def _available(deployment: Mapping[str, Any]) -> bool:
    status = deployment.get("status") or {}
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Available":
            return bool(condition.get("status") == "True")
    # No conditions yet (a new Deployment, or an API server without controllers): judge by pods.
    available = status.get("availableReplicas")
    return available is None or int(available) > 0


async def _act(
    body: kopf.Body,
    patch: kopf.Patch,
    *,
    reconciler: Reconciler,
    cluster: Cluster,
    state: failover.State,
    decisions: list[failover.Decision],
) -> tuple[failover.State, Outcome | None]:
    """Apply the decided desired state; while a switch is under way, observe its progress and
    decide again at once, so a failover completes in the probe round that started it."""
    applied = (cluster.active_region, frozenset(cluster.full_capacity or {cluster.active_region}))
    outcome: Outcome | None = None
    for _ in range(4):
        wanted = (state.serving, frozenset(state.full_capacity))
        if state.switch is None and wanted == applied:
            break
        outcome = await reconcile_nercluster(_with_state(body, state), patch, reconciler)
        applied = wanted
        if outcome is None or state.switch is None:
            break
        state, decision = failover.decide(
            state,
            [],
            failover.Policy.from_spec(cluster.spec.failover),
            time.time(),
            home=cluster.spec.primary.name,
            progress=_progress(outcome, state),
        )
        decisions.append(decision)
        if (
            decision.action == "continue"
            and (state.serving, frozenset(state.full_capacity)) == wanted
        ):
            break  # waiting for something outside (pods starting): next probe round
    return state, outcome


def _with_state(body: kopf.Body, state: failover.State) -> kopf.Body:
    """The NerCluster as the reconcile must see it: with the decided status already in place."""
    status = dict(body.get("status") or {})
    status["activeRegion"] = state.serving
    status["failover"] = state.to_dict()
    raw: Any = {**body, "status": status}
    return kopf.Body(raw)


def _progress(outcome: Outcome, state: failover.State) -> failover.Progress:
    switch = state.switch
    assert switch is not None
    cluster = outcome.cluster
    region = cluster.spec.region(switch.target)
    result = outcome.results.get(switch.target)
    if region is None or result is None or not result.ok:
        return failover.Progress()
    full = plan(cluster, region).replicas
    scaled = (result.desired_replicas or 0) >= full
    gateway = outcome.results.get(GATEWAY_TARGET)
    return failover.Progress(
        target_scaled=scaled,
        target_ready=scaled and (result.ready_replicas or 0) >= full,
        gateway_switched=cluster.active_region == switch.target and (gateway is None or gateway.ok),
    )


def _observe(cluster: Cluster, results: list[health.ProbeResult]) -> None:
    who = f"{cluster.namespace}/{cluster.name}"
    for result in results:
        REGION_HEALTHY.labels(who, result.region, "data").set(result.data_plane_ok)
        REGION_HEALTHY.labels(who, result.region, "control").set(result.control_plane_ok)
        if result.latency_ms is not None:
            PROBE_SECONDS.labels(who, result.region).observe(result.latency_ms / 1000)


def _record_health(
    patch: kopf.Patch, results: list[health.ProbeResult], state: failover.State
) -> None:
    report = {}
    for result in results:
        counters = state.regions.get(result.region, failover.RegionHealth())
        report[result.region] = {
            **result.to_status(),
            "consecutiveFailures": counters.failures,
            "consecutiveSuccesses": counters.successes,
        }
    patch.status["health"] = report


def _record(
    body: kopf.Body,
    patch: kopf.Patch,
    *,
    cluster: Cluster,
    tracker: Tracker,
    results: list[health.ProbeResult],
    decisions: list[failover.Decision],
) -> None:
    state = tracker.state
    who = f"{cluster.namespace}/{cluster.name}"
    _record_health(patch, results, state)
    patch.status["activeRegion"] = state.serving
    patch.status["failover"] = {
        **state.to_dict(),
        "revision": tracker.revision,
        "reason": decisions[-1].reason,
    }
    for region in cluster.spec.regions:
        ACTIVE_REGION.labels(who, region.name).set(region.name == state.serving)

    for decision in decisions:
        if decision.action in ("failover", "failback", "switchover"):
            source = cluster.active_region  # as it was when this round started
            FAILOVERS.labels(who, decision.action, source, decision.target or "").inc()
        for event in decision.events:
            if decision.action == "stay":
                if event.message == tracker.last_warning:
                    continue
                tracker.last_warning = event.message
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        if decision.action != "stay":
            tracker.last_warning = ""
        if decision.action == "complete" and state.last_switch is not None:
            last = state.last_switch
            patch.status["lastFailover"] = {
                "time": _iso(last.completed_at),
                "kind": last.kind,
                "from": last.source,
                "to": last.target,
                "reason": last.reason,
                "durationSeconds": round(last.duration_seconds, 3),
            }

    degraded = decisions[-1].degraded
    if degraded != tracker.degraded:
        if degraded:
            message = (
                f"control plane of {', '.join(degraded)} unreachable or its Deployment not "
                "available, but its endpoint serves correct answers: no failover"
            )
            kopf.event(body, type="Warning", reason="ControlPlaneDegraded", message=message)
        tracker.degraded = degraded

    failed_over = _failed_over_condition(cluster, state, decisions[-1])
    patch.fns.append(conditions.setter([failed_over], generation=cluster.generation))


def _failed_over_condition(
    cluster: Cluster, state: failover.State, decision: failover.Decision
) -> conditions.Condition:
    home = cluster.spec.primary.name
    if state.switch is not None:
        switch = state.switch
        return conditions.Condition(
            conditions.FAILED_OVER,
            "True" if switch.target != home else "False",
            f"{switch.kind.capitalize()}InProgress",
            f"{switch.source} -> {switch.target} ({switch.phase}): {switch.reason}",
        )
    if state.serving != home:
        last = state.last_switch
        why = last.reason if last is not None and last.target == state.serving else ""
        return conditions.Condition(
            conditions.FAILED_OVER,
            "True",
            "ServingFromStandby",
            f"{state.serving} serves instead of {home}: {why or decision.reason}",
        )
    return conditions.Condition(
        conditions.FAILED_OVER, "False", "ServingFromPrimary", f"{home} serves"
    )


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
