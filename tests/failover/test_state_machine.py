"""The failover state machine, driven round by round with an explicit clock."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ner_operator.failover import (
    Decision,
    Policy,
    Probe,
    Progress,
    State,
    decide,
    initial_state,
)

A, B = "region-a", "region-b"
POLICY = Policy(
    failure_threshold=3,
    success_threshold=5,
    cooldown_seconds=60,
    min_switch_interval_seconds=120,
    scale_up_timeout_seconds=30,
)
INTERVAL = 2.0
DONE = Progress(target_scaled=True, target_ready=True, gateway_switched=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0


def probes(a: bool, b: bool, *, a_api: bool = True, b_api: bool = True) -> list[Probe]:
    return [
        Probe(A, a, a_api, "ok" if a else "connection refused"),
        Probe(B, b, b_api, "ok" if b else "connection refused"),
    ]


class Driver:
    """Runs rounds every INTERVAL seconds; the operator's actions succeed at once (``DONE``)."""

    def __init__(self, policy: Policy = POLICY, state: State | None = None) -> None:
        self.policy = policy
        self.state = state or initial_state(A, [A, B])
        self.now = 1_000_000.0
        self.decisions: list[Decision] = []

    def round(
        self,
        a: bool,
        b: bool,
        *,
        a_api: bool = True,
        b_api: bool = True,
        requested: str | None = None,
        progress: Progress = DONE,
    ) -> Decision:
        self.now += INTERVAL
        self.state, decision = decide(
            self.state,
            probes(a, b, a_api=a_api, b_api=b_api),
            self.policy,
            self.now,
            home=A,
            requested=requested,
            progress=progress,
        )
        # What the operator persists is what the next round reads back.
        self.state = State.from_dict(json.loads(json.dumps(self.state.to_dict())), default_active=A)
        self.decisions.append(decision)
        return decision

    def rounds(self, pattern: Iterable[tuple[bool, bool]], **kwargs: object) -> list[Decision]:
        return [self.round(a, b, **kwargs) for a, b in pattern]  # type: ignore[arg-type]

    def actions(self) -> list[str]:
        return [d.action for d in self.decisions]


def test_healthy_primary_stays() -> None:
    driver = Driver()
    decisions = driver.rounds([(True, True)] * 10)
    assert {d.action for d in decisions} == {"stay"}
    assert decisions[-1].active_region == A
    assert decisions[-1].full_capacity == (A,)


def test_failover_after_exactly_failure_threshold_bad_probes() -> None:
    driver = Driver()
    driver.rounds([(True, True)] * 3)
    first, second = driver.round(False, True), driver.round(False, True)
    assert (first.action, second.action) == ("stay", "stay")
    assert "failed 2 of 3" in second.reason
    third = driver.round(False, True)
    assert third.action == "failover"
    assert third.target == B
    assert third.active_region == B  # the source is down: traffic moves at once
    assert third.full_capacity == (B,)
    assert [e.reason for e in third.events] == ["FailoverStarted"]
    assert "connection refused" in third.reason
    assert driver.state.phase == "Switching"


def test_one_good_probe_resets_the_failure_count() -> None:
    driver = Driver()
    driver.rounds([(False, True), (False, True), (True, True), (False, True), (False, True)])
    assert set(driver.actions()) == {"stay"}
    assert driver.state.active == A


def test_switch_completes_only_when_target_scaled_and_gateway_switched() -> None:
    driver = Driver()
    driver.rounds([(False, True)] * 3, progress=Progress())
    assert driver.decisions[-1].action == "failover"
    waiting = driver.round(False, True, progress=Progress(target_scaled=True))
    assert waiting.action == "continue"
    assert waiting.active_region == B
    assert driver.state.active == A  # not done yet: still the switch's source
    done = driver.round(False, True, progress=Progress(target_scaled=True, gateway_switched=True))
    assert done.action == "complete"
    assert [e.reason for e in done.events] == ["FailoverCompleted"]
    assert driver.state.active == B
    assert driver.state.phase == "Stable"
    assert driver.state.last_switch is not None
    assert driver.state.last_switch.duration_seconds == pytest.approx(2 * INTERVAL)
    assert driver.state.failovers == 1


def fail_over(driver: Driver) -> None:
    driver.rounds([(False, True)] * 3)
    assert driver.round(False, True).action == "complete"
    assert driver.state.active == B


def test_auto_failback_waits_for_the_switch_interval() -> None:
    driver = Driver()
    fail_over(driver)  # started 2 rounds ago
    # A is back at once; 120 s after the failover started is 58 more rounds.
    decisions = driver.rounds([(True, True)] * 58)
    assert {d.action for d in decisions} == {"stay"}
    assert "minSwitchIntervalSeconds" in decisions[-1].reason
    failback = driver.round(True, True)
    assert (failback.action, failback.target) == ("failback", A)
    # Capacity before traffic: A scales up while B still serves.
    assert failback.phase == "ScalingUp"
    assert failback.active_region == B
    assert set(failback.full_capacity) == {A, B}


def test_auto_failback_waits_for_the_cooldown() -> None:
    driver = Driver(Policy(**{**POLICY.__dict__, "min_switch_interval_seconds": 0}))
    fail_over(driver)
    # One bad probe of A restarts its cooldown.
    driver.rounds([(True, True)] * 20 + [(False, True)])
    decisions = driver.rounds([(True, True)] * 30)  # 58 s of health: not yet
    assert {d.action for d in decisions} == {"stay"}
    assert driver.round(True, True).action == "failback"  # 60 s


def test_auto_failback_waits_for_the_success_threshold() -> None:
    policy = Policy(**{**POLICY.__dict__, "min_switch_interval_seconds": 0, "cooldown_seconds": 0})
    driver = Driver(policy)
    fail_over(driver)
    assert {d.action for d in driver.rounds([(True, True)] * 4)} == {"stay"}
    assert driver.round(True, True).action == "failback"


def test_failback_phases_scale_up_then_move_traffic_then_scale_down() -> None:
    driver = Driver()
    fail_over(driver)
    driver.rounds([(True, True)] * 59)
    assert driver.decisions[-1].action == "failback"
    waiting = driver.round(True, True, progress=Progress(target_scaled=True))
    assert (waiting.action, waiting.phase, waiting.active_region) == ("continue", "ScalingUp", B)
    moving = driver.round(True, True, progress=Progress(target_scaled=True, target_ready=True))
    assert (moving.action, moving.phase, moving.active_region) == ("continue", "Switching", A)
    assert set(moving.full_capacity) == {A, B}  # B keeps its pods until the gateway moved
    done = driver.round(True, True)
    assert done.action == "complete"
    assert [e.reason for e in done.events] == ["FailbackCompleted"]
    assert done.full_capacity == (A,)  # now B goes back to warm
    assert driver.state.active == A


def test_planned_switch_moves_traffic_after_scale_up_timeout_even_if_not_ready() -> None:
    driver = Driver()
    driver.round(True, True, requested=B)
    assert driver.decisions[-1].action == "switchover"
    not_ready = Progress(target_scaled=True)
    decisions = driver.rounds([(True, True)] * 14, progress=not_ready)
    assert {d.phase for d in decisions} == {"ScalingUp"}
    assert driver.round(True, True, progress=not_ready).phase == "Switching"


def test_a_region_flapping_for_60_seconds_causes_at_most_one_failover() -> None:
    driver = Driver()
    # 60 s of A bouncing: 3 down, 2 up, 4 down, 1 up, ... (probes every 2 s).
    pattern = [False] * 3 + [True] * 2 + [False] * 4 + [True] + [False] * 5 + [True] * 3
    pattern += [False, True] * 6
    assert len(pattern) * INTERVAL == 60
    driver.rounds([(a, True) for a in pattern])
    assert driver.actions().count("failover") == 1
    assert "failback" not in driver.actions()
    assert driver.state.active == B


def test_flapping_both_ways_is_damped_by_the_switch_interval() -> None:
    driver = Driver()
    fail_over(driver)
    # Now B fails while A is up again: a failover to A would be the second switch in seconds.
    decisions = driver.rounds([(True, False)] * 5)
    damped = [d for d in decisions if any(e.reason == "FailoverDamped" for e in d.events)]
    assert damped
    assert "minSwitchIntervalSeconds" in damped[0].reason
    assert driver.actions().count("failover") == 1
    # Once the interval is over, the operator follows the traffic nginx already moved.
    later = driver.rounds([(True, False)] * 60)
    assert [d.action for d in later].count("failover") == 1
    assert driver.state.failovers == 2


def test_both_regions_down_changes_nothing_and_says_so() -> None:
    driver = Driver()
    decisions = driver.rounds([(False, False)] * 6)
    assert {d.action for d in decisions} == {"stay"}
    last = decisions[-1]
    assert last.active_region == A
    assert "no other region is healthy" in last.reason
    assert [e.reason for e in last.events] == ["FailoverImpossible"]
    assert last.down == (A, B)


def test_manual_failback_waits_for_the_annotation() -> None:
    driver = Driver(Policy(**{**POLICY.__dict__, "failback": "manual"}))
    fail_over(driver)
    decisions = driver.rounds([(True, True)] * 100)
    assert {d.action for d in decisions} == {"stay"}
    assert "nerha.dev/switch-to: region-a" in decisions[-1].reason
    requested = driver.round(True, True, requested=A)
    assert requested.action == "failback"
    assert driver.round(True, True, requested=A).action == "complete"
    assert driver.state.active == A
    assert driver.round(True, True, requested=A).action == "stay"  # annotation left in place


def test_planned_switchover_honoured_only_to_a_healthy_region() -> None:
    driver = Driver()
    refused = driver.round(True, False, requested=B)
    assert refused.action == "stay"
    assert "refused" in refused.reason
    assert [e.reason for e in refused.events] == ["SwitchoverRefused"]
    unknown = driver.round(True, True, requested="region-x")
    assert unknown.action == "stay"
    assert "not a region" in unknown.reason
    accepted = driver.round(True, True, requested=B)
    assert accepted.action == "switchover"
    # No cooldown or switch interval for a person's request.
    assert driver.round(True, True, requested=B).action == "complete"
    assert driver.state.active == B
    # Planned switchovers are not failovers; and no auto failback while the request stands...
    assert driver.state.failovers == 0


def test_switchover_abandoned_when_target_fails_during_scale_up() -> None:
    driver = Driver()
    driver.round(True, True, requested=B)
    not_ready = Progress(target_scaled=True)
    decisions = driver.rounds([(True, False)] * 3, progress=not_ready)
    assert decisions[-1].action == "abort"
    assert driver.state.active == A
    assert driver.state.phase == "Stable"
    assert decisions[-1].active_region == A


def test_control_plane_only_problem_does_not_fail_over() -> None:
    driver = Driver()
    decisions = driver.rounds([(True, True)] * 10, a_api=False)
    assert {d.action for d in decisions} == {"stay"}
    assert decisions[-1].degraded == (A,)
    assert decisions[-1].down == ()
    assert driver.state.active == A


def test_restart_mid_failover_resumes_from_serialized_state() -> None:
    driver = Driver()
    driver.rounds([(False, True)] * 3, progress=Progress())
    assert driver.state.phase == "Switching"
    # The operator dies here (scaled up, gateway not switched); a new one reads status.failover.
    persisted = json.loads(json.dumps(driver.state.to_dict()))
    restarted = Driver(state=State.from_dict(persisted, default_active=A))
    restarted.now = driver.now
    resumed = restarted.round(False, True, progress=Progress(target_scaled=True))
    assert (resumed.action, resumed.active_region) == ("continue", B)
    assert "FailoverStarted" not in [e.reason for e in resumed.events]  # no second start
    done = restarted.round(False, True)
    assert done.action == "complete"
    assert restarted.state.active == B
    assert restarted.state.failovers == 1


@pytest.mark.parametrize("garbage", [None, {}, {"active": 3}, {"active": A, "switch": {"x": 1}}])
def test_unreadable_state_starts_fresh(garbage: object) -> None:
    state = State.from_dict(garbage, default_active=B)  # type: ignore[arg-type]
    assert state.active == B
    assert state.switch is None


def test_state_round_trips_through_json() -> None:
    driver = Driver()
    driver.rounds([(False, True)] * 3, progress=Progress())
    data = driver.state.to_dict()
    assert State.from_dict(json.loads(json.dumps(data)), default_active=A) == driver.state
    assert data["phase"] == "Switching"
    assert data["switch"]["kind"] == "failover"


@settings(max_examples=200, deadline=None)
@given(pattern=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_never_more_than_one_automatic_switch_per_interval(
    pattern: list[tuple[bool, bool]],
) -> None:
    driver = Driver()
    driver.rounds(pattern)
    starts = [
        driver.now - (len(pattern) - i - 1) * INTERVAL
        for i, d in enumerate(driver.decisions)
        if d.action in ("failover", "failback")
    ]
    for earlier, later in itertools.pairwise(starts):
        assert later - earlier >= POLICY.min_switch_interval_seconds
    # Traffic is never sent to a region that was down in the round that moved it there.
    for (a, b), decision in zip(pattern, driver.decisions, strict=True):
        if decision.action == "failover":
            assert (a, b) == ((True, False) if decision.target == A else (False, True))
