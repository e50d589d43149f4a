from __future__ import annotations

from ner_operator.conditions import Condition, find, set_condition, set_conditions


def test_a_new_condition_is_appended_with_the_generation() -> None:
    result = set_condition([], Condition("Ready", "True", "Ok", "fine"), generation=3, now="T1")
    assert result == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Ok",
            "message": "fine",
            "lastTransitionTime": "T1",
            "observedGeneration": 3,
        }
    ]


def test_other_writers_conditions_are_kept() -> None:
    failed_over = {"type": "FailedOver", "status": "True", "reason": "X", "message": "m"}
    result = set_condition(
        [failed_over], Condition("Ready", "True", "Ok", ""), generation=1, now="T1"
    )
    assert result[0] == failed_over
    assert [c["type"] for c in result] == ["FailedOver", "Ready"]


def test_transition_time_changes_only_when_the_status_flips() -> None:
    first = set_condition([], Condition("Ready", "True", "Ok", "a"), generation=1, now="T1")
    same = set_condition(first, Condition("Ready", "True", "Still", "b"), generation=2, now="T2")
    assert find(same, "Ready") == {
        "type": "Ready",
        "status": "True",
        "reason": "Still",
        "message": "b",
        "lastTransitionTime": "T1",
        "observedGeneration": 2,
    }
    flipped = set_condition(same, Condition("Ready", "False", "Down", "c"), generation=2, now="T3")
    assert find(flipped, "Ready")["lastTransitionTime"] == "T3"  # type: ignore[index]


def test_input_is_not_modified() -> None:
    original = [{"type": "Ready", "status": "True", "lastTransitionTime": "T0"}]
    set_conditions(original, [Condition("Ready", "False", "R", "m")], generation=1, now="T1")
    assert original == [{"type": "Ready", "status": "True", "lastTransitionTime": "T0"}]
