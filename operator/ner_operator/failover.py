"""When to move traffic between regions: a pure state machine (no I/O, the clock is an argument).

Each probe round the operator calls ``decide(state, probes, policy, now, ...)`` and gets a new
``State`` (persisted as ``status.failover``) and a ``Decision`` (what to do, and why). The
decision is data: the regions that must run at full capacity, the region the gateway must send
traffic to, the Events to emit. An operator restarted at any point reads the state back with
``State.from_dict`` and the next ``decide`` carries on where the last one stopped.

Rules (the "why" of each is in ``docs/architecture.md``):

* Only the data plane counts: a region is *up* when its endpoint answers ``/ready`` and the golden
  inference correctly. Its API server being unreachable (control plane) is reported as Degraded
  and never moves traffic: the region's pods keep serving without it.
* ``failureThreshold`` consecutive bad probes of the active region -> fail over to a region whose
  last probe was good. If no other region is up, nothing changes and the decision says so.
* Failback (``failback: auto``) to the home region (the spec's primary) needs
  ``successThreshold`` consecutive good probes *and* ``cooldownSeconds`` of uninterrupted health.
* Flap damping: no automatic switch within ``minSwitchIntervalSeconds`` of the last one. That is
  safe because the gateway keeps routing around a dead region by itself (nginx passive failover
  to its ``backup`` servers): damping delays only the operator's durable switch, never traffic.
* ``nerha.dev/switch-to: <region>`` asks for a planned switchover (also the way to fail back in
  ``failback: manual``). It is honoured when the target's last probe was good, without waiting
  for cooldown or the switch interval (a person asked); a target that is not up is refused, with
  the reason, and there is no force: sending traffic to a region that fails the golden check
  would turn a maintenance into an outage.
* A switch runs in phases so that capacity always comes before traffic: ``ScalingUp`` (the target
  at full capacity, the source still serving; skipped by a failover, whose source is down),
  ``Switching`` (the gateway sends traffic to the target) and done (the source back to warm).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ner_operator.spec import Failover as FailoverSpec

Action = Literal["stay", "failover", "failback", "switchover", "continue", "complete", "abort"]
SwitchKind = Literal["failover", "failback", "switchover"]
Phase = Literal["Stable", "ScalingUp", "Switching"]
EventType = Literal["Normal", "Warning"]
_KINDS: tuple[SwitchKind, ...] = ("failover", "failback", "switchover")
_PHASES: tuple[Phase, ...] = ("Stable", "ScalingUp", "Switching")


@dataclass(frozen=True)
class Policy:
    failure_threshold: int = 3
    success_threshold: int = 5
    failback: Literal["auto", "manual"] = "auto"
    cooldown_seconds: float = 60.0
    min_switch_interval_seconds: float = 120.0
    # A planned switch waits this long at most for the target to be ready at full capacity, then
    # moves traffic anyway (the source is healthy and keeps its pods until traffic has moved).
    scale_up_timeout_seconds: float = 120.0

    @classmethod
    def from_spec(cls, spec: FailoverSpec) -> Policy:
        return cls(
            failure_threshold=spec.failure_threshold,
            success_threshold=spec.success_threshold,
            failback=spec.failback,
            cooldown_seconds=spec.cooldown_seconds,
            min_switch_interval_seconds=spec.min_switch_interval_seconds,
        )


@dataclass(frozen=True)
class Probe:
    """One probe round's facts about one region (see ``health.probe_region``)."""

    region: str
    data_plane_ok: bool  # /ready and the golden inference answered correctly, in time
    control_plane_ok: bool  # its API server answered and its Deployment is available
    reason: str = ""


@dataclass(frozen=True)
class Progress:
    """What the operator observed of a switch in progress (ignored when none is)."""

    target_scaled: bool = False  # the target's Deployment is set to full capacity
    target_ready: bool = False  # ... and has that many ready replicas
    gateway_switched: bool = False  # the gateway's config names the target primary (or no gateway)


@dataclass(frozen=True)
class RegionHealth:
    failures: int = 0  # consecutive bad data-plane probes
    successes: int = 0  # consecutive good data-plane probes
    healthy_since: float | None = None  # start of the current run of good probes
    data_plane_ok: bool | None = None  # last probe; None = never probed
    control_plane_ok: bool | None = None
    reason: str = ""

    def after(self, probe: Probe, now: float) -> RegionHealth:
        if probe.data_plane_ok:
            return RegionHealth(
                failures=0,
                successes=self.successes + 1,
                healthy_since=self.healthy_since if self.successes else now,
                data_plane_ok=True,
                control_plane_ok=probe.control_plane_ok,
                reason=probe.reason,
            )
        return RegionHealth(
            failures=self.failures + 1,
            successes=0,
            healthy_since=None,
            data_plane_ok=False,
            control_plane_ok=probe.control_plane_ok,
            reason=probe.reason,
        )

    @property
    def up(self) -> bool:
        return self.data_plane_ok is True


@dataclass(frozen=True)
class Switch:
    kind: SwitchKind
    source: str
    target: str
    reason: str
    started_at: float
    phase: Phase


@dataclass(frozen=True)
class LastSwitch:
    kind: SwitchKind
    source: str
    target: str
    reason: str
    started_at: float
    completed_at: float

    @property
    def duration_seconds(self) -> float:
        return self.completed_at - self.started_at


@dataclass(frozen=True)
class State:
    """``status.failover``: everything ``decide`` needs to resume after a restart."""

    active: str
    regions: Mapping[str, RegionHealth] = field(default_factory=dict)
    switch: Switch | None = None
    last_switch_at: float | None = None  # when the last switch started (flap damping)
    last_switch: LastSwitch | None = None
    failovers: int = 0

    @property
    def phase(self) -> Phase:
        return self.switch.phase if self.switch else "Stable"

    @property
    def serving(self) -> str:
        """The region the gateway must send traffic to now (``status.activeRegion``)."""
        switch = self.switch
        if switch is None or switch.phase == "ScalingUp":
            return self.active if switch is None else switch.source
        return switch.target

    @property
    def full_capacity(self) -> tuple[str, ...]:
        """Regions that must run at full capacity now (``status.failover.fullCapacity``)."""
        switch = self.switch
        if switch is None:
            return (self.active,)
        if switch.kind == "failover" and switch.phase == "Switching":
            return (switch.target,)
        # A planned switch keeps the source full until it completes: the gateway's pods roll to
        # the new config one by one and some still send traffic to the source.
        return (switch.source, switch.target)

    def to_dict(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "phase": self.phase,
            "serving": self.serving,
            "fullCapacity": list(self.full_capacity),
            "regions": {name: _health_to_dict(h) for name, h in sorted(self.regions.items())},
            "switch": None if self.switch is None else _camel(self.switch.__dict__),
            "lastSwitchAt": self.last_switch_at,
            "lastSwitch": None if self.last_switch is None else _camel(self.last_switch.__dict__),
            "failovers": self.failovers,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, default_active: str) -> State:
        """The persisted state; anything missing or malformed falls back to a fresh state."""
        if not isinstance(data, Mapping) or not isinstance(data.get("active"), str):
            return cls(active=default_active)
        try:
            regions = {
                str(name): _health_from_dict(h) for name, h in (data.get("regions") or {}).items()
            }
            return cls(
                active=data["active"],
                regions=regions,
                switch=_switch_from_dict(data.get("switch")),
                last_switch_at=_float_or_none(data.get("lastSwitchAt")),
                last_switch=_last_from_dict(data.get("lastSwitch")),
                failovers=int(data.get("failovers") or 0),
            )
        except (TypeError, ValueError, KeyError, AttributeError):
            return cls(active=default_active)


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: str  # FailoverStarted, FailoverCompleted, ...
    message: str


@dataclass(frozen=True)
class Decision:
    """What to do now. The operator writes ``active_region`` (status.activeRegion; the gateway
    and the replica plan follow it) and keeps every region of ``full_capacity`` at full size."""

    action: Action
    target: str | None
    reason: str
    phase: Phase
    active_region: str
    full_capacity: tuple[str, ...]
    events: tuple[Event, ...] = ()
    degraded: tuple[str, ...] = ()  # regions whose control plane alone is failing
    down: tuple[str, ...] = ()  # regions whose data plane failed the last probe


def decide(
    state: State,
    probes: Sequence[Probe],
    policy: Policy,
    now: float,
    *,
    home: str,
    requested: str | None = None,
    progress: Progress | None = None,
) -> tuple[State, Decision]:
    """One probe round: update the counters, then continue a switch or maybe start one.

    ``home`` is the spec's primary region (where auto failback goes). ``requested`` is the
    ``nerha.dev/switch-to`` annotation. ``progress`` describes the switch in progress, if any.
    """
    regions = dict(state.regions)
    for probe in probes:
        regions[probe.region] = regions.get(probe.region, RegionHealth()).after(probe, now)
    state = replace(state, regions=regions)
    if state.switch is not None:
        return _continue(state, policy, now, progress or Progress())
    return _stable(state, policy, now, home=home, requested=requested)


def _stable(
    state: State, policy: Policy, now: float, *, home: str, requested: str | None
) -> tuple[State, Decision]:
    for rule in (_requested_switch(state, home, requested), _failover(state, policy, now)):
        if rule is not None:
            return _apply(state, rule, now)
    rule = _failback(state, policy, now, home)
    if rule is not None:
        return _apply(state, rule, now)
    health = state.regions.get(state.active, RegionHealth())
    if health.failures:
        return state, _stay(
            state,
            f"{state.active} failed {health.failures} of {policy.failure_threshold} probes: "
            f"{health.reason}",
        )
    return state, _stay(state, f"{state.active} is serving")


# A rule's verdict: start a switch (kind, target, reason) or stay (a Decision).
_Verdict = tuple[SwitchKind, str, str] | Decision


def _apply(state: State, verdict: _Verdict, now: float) -> tuple[State, Decision]:
    if isinstance(verdict, Decision):
        return state, verdict
    kind, target, reason = verdict
    return _start(state, kind, target, reason, now)


def _since_switch(state: State, now: float) -> float | None:
    return None if state.last_switch_at is None else now - state.last_switch_at


def _requested_switch(state: State, home: str, requested: str | None) -> _Verdict | None:
    if not requested or requested == state.active:
        return None
    if requested not in state.regions:
        return _stay(
            state,
            f"nerha.dev/switch-to names {requested!r}, which is not a region of this "
            f"NerCluster (regions: {', '.join(sorted(state.regions))})",
            warn="SwitchoverRefused",
        )
    if not state.regions[requested].up:
        return _stay(
            state,
            f"switchover to {requested} refused: it is not healthy "
            f"({state.regions[requested].reason or 'not probed yet'})",
            warn="SwitchoverRefused",
        )
    kind: SwitchKind = "failback" if requested == home else "switchover"
    return kind, requested, f"requested by nerha.dev/switch-to: {requested}"


def _failover(state: State, policy: Policy, now: float) -> _Verdict | None:
    active = state.active
    health = state.regions.get(active, RegionHealth())
    if health.failures < policy.failure_threshold:
        return None
    down = f"{active} failed {health.failures} probes in a row: {health.reason}"
    up = [name for name, h in state.regions.items() if name != active and h.up]
    if not up:
        return _stay(
            state,
            f"{down}; no other region is healthy, so failing over would change nothing: "
            f"staying on {active}",
            warn="FailoverImpossible",
        )
    since = _since_switch(state, now)
    if since is not None and since < policy.min_switch_interval_seconds:
        return _stay(
            state,
            f"{down}; last switch {since:.0f} s ago, within minSwitchIntervalSeconds "
            f"{policy.min_switch_interval_seconds:g}: the gateway keeps routing around it",
            warn="FailoverDamped",
        )
    return "failover", up[0], down


def _failback(state: State, policy: Policy, now: float, home: str) -> _Verdict | None:
    if state.active == home or home not in state.regions:
        return None
    health = state.regions[home]
    healthy_for = 0.0 if health.healthy_since is None else now - health.healthy_since
    if health.successes < policy.success_threshold or healthy_for < policy.cooldown_seconds:
        return None
    if policy.failback == "manual":
        return _stay(
            state,
            f"{home} is healthy again; failback is manual: annotate the NerCluster with "
            f"nerha.dev/switch-to: {home}",
        )
    since = _since_switch(state, now)
    if since is not None and since < policy.min_switch_interval_seconds:
        return _stay(
            state,
            f"{home} is healthy again; failback waits for minSwitchIntervalSeconds "
            f"({since:.0f} s of {policy.min_switch_interval_seconds:g} s)",
        )
    return "failback", home, f"{home} healthy for {healthy_for:.0f} s ({health.successes} probes)"


def _start(
    state: State, kind: SwitchKind, target: str, reason: str, now: float
) -> tuple[State, Decision]:
    # A failover's source is down: no reason to wait for the target's readiness before moving
    # traffic (nginx already sends it there). A planned switch scales up first.
    phase: Phase = "Switching" if kind == "failover" else "ScalingUp"
    switch = Switch(kind, state.active, target, reason, now, phase)
    state = replace(
        state,
        switch=switch,
        last_switch_at=now,
        failovers=state.failovers + (kind == "failover"),
    )
    started = Event(
        "Warning" if kind == "failover" else "Normal",
        f"{kind.capitalize()}Started",
        f"{kind} {switch.source} -> {target}: {reason}",
    )
    return state, _decision(state, kind, target, f"{kind} to {target}: {reason}", (started,))


def _continue(
    state: State, policy: Policy, now: float, progress: Progress
) -> tuple[State, Decision]:
    switch = state.switch
    assert switch is not None
    target = state.regions.get(switch.target, RegionHealth())
    if (
        switch.kind != "failover"
        and switch.phase == "ScalingUp"
        and target.failures >= policy.failure_threshold
    ):
        # The source still serves; do not move traffic to a target that went down meanwhile.
        state = replace(state, switch=None)
        message = f"{switch.kind} to {switch.target} abandoned: it failed {target.failures} probes"
        return state, _decision(
            state, "abort", switch.target, message, (Event("Warning", "SwitchAborted", message),)
        )
    if switch.phase == "ScalingUp":
        waited = now - switch.started_at
        if not (progress.target_ready or waited >= policy.scale_up_timeout_seconds):
            return state, _decision(
                state, "continue", switch.target, f"waiting for {switch.target} at full capacity"
            )
        switch = replace(switch, phase="Switching")
        state = replace(state, switch=switch)
    done = progress.gateway_switched and (progress.target_scaled or progress.target_ready)
    if not done:
        return state, _decision(
            state,
            "continue",
            switch.target,
            f"moving traffic to {switch.target} (scaled: {progress.target_scaled}, gateway "
            f"switched: {progress.gateway_switched})",
        )
    last = LastSwitch(
        switch.kind, switch.source, switch.target, switch.reason, switch.started_at, now
    )
    state = replace(state, active=switch.target, switch=None, last_switch=last)
    message = (
        f"{switch.kind} {switch.source} -> {switch.target} completed in "
        f"{last.duration_seconds:.1f} s: {switch.reason}"
    )
    event = Event("Normal", f"{switch.kind.capitalize()}Completed", message)
    return state, _decision(state, "complete", switch.target, message, (event,))


def _stay(state: State, reason: str, *, warn: str | None = None) -> Decision:
    events = () if warn is None else (Event("Warning", warn, reason),)
    return _decision(state, "stay", None, reason, events)


def _decision(
    state: State,
    action: Action,
    target: str | None,
    reason: str,
    events: tuple[Event, ...] = (),
) -> Decision:
    regions = state.regions
    return Decision(
        action=action,
        target=target,
        reason=reason,
        phase=state.phase,
        active_region=state.serving,
        full_capacity=state.full_capacity,
        events=events,
        degraded=tuple(
            sorted(n for n, h in regions.items() if h.up and h.control_plane_ok is False)
        ),
        down=tuple(sorted(n for n, h in regions.items() if h.data_plane_ok is False)),
    )


def _camel(values: Mapping[str, Any]) -> dict[str, Any]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.capitalize() for part in rest)

    return {camel(k): v for k, v in values.items()}


def _health_to_dict(health: RegionHealth) -> dict[str, Any]:
    return _camel(health.__dict__)


def _health_from_dict(data: Mapping[str, Any]) -> RegionHealth:
    return RegionHealth(
        failures=int(data.get("failures") or 0),
        successes=int(data.get("successes") or 0),
        healthy_since=_float_or_none(data.get("healthySince")),
        data_plane_ok=_bool_or_none(data.get("dataPlaneOk")),
        control_plane_ok=_bool_or_none(data.get("controlPlaneOk")),
        reason=str(data.get("reason") or ""),
    )


def _switch_from_dict(data: Any) -> Switch | None:
    if not isinstance(data, Mapping):
        return None
    kind, phase = data["kind"], data["phase"]
    if kind not in _KINDS or phase not in _PHASES or phase == "Stable":
        raise ValueError(f"bad switch {data!r}")
    return Switch(
        kind=kind,
        source=str(data["source"]),
        target=str(data["target"]),
        reason=str(data.get("reason") or ""),
        started_at=float(data["startedAt"]),
        phase=phase,
    )


def _last_from_dict(data: Any) -> LastSwitch | None:
    if not isinstance(data, Mapping):
        return None
    kind = data["kind"]
    if kind not in _KINDS:
        raise ValueError(f"bad last switch {data!r}")
    return LastSwitch(
        kind=kind,
        source=str(data["source"]),
        target=str(data["target"]),
        reason=str(data.get("reason") or ""),
        started_at=float(data["startedAt"]),
        completed_at=float(data["completedAt"]),
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def initial_state(active: str, regions: Sequence[str]) -> State:
    return State(active=active, regions={name: RegionHealth() for name in regions})
