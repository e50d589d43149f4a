from ner_inference.builtin.tags import TAGS, allowed_transition, entities_from_tags
from ner_inference.entities import Entity


def test_bmes_runs_become_entities() -> None:
    text = "李克强在北京"
    tags = ["B-PER", "M-PER", "E-PER", "O", "B-LOC", "E-LOC"]
    assert entities_from_tags(text, tags) == [
        Entity("PER", 0, 3, "李克强"),
        Entity("LOC", 4, 6, "北京"),
    ]


def test_single_character_entity() -> None:
    assert entities_from_tags("京沪", ["S-LOC", "S-LOC"]) == [
        Entity("LOC", 0, 1, "京"),
        Entity("LOC", 1, 2, "沪"),
    ]


def test_malformed_runs_are_dropped_not_guessed() -> None:
    # Gold MSRA data has a few of these: an E without its B, a type change mid-entity.
    assert entities_from_tags("abcd", ["O", "E-PER", "B-LOC", "E-ORG"]) == []
    assert entities_from_tags("ab", ["B-PER", "M-PER"]) == []


def test_transitions_allow_exactly_well_formed_sequences() -> None:
    assert allowed_transition("B-PER", "M-PER")
    assert allowed_transition("M-PER", "E-PER")
    assert allowed_transition("E-PER", "B-LOC")
    assert not allowed_transition("O", "E-PER")
    assert not allowed_transition("B-PER", "E-LOC")
    assert not allowed_transition("B-PER", "O")
    assert len(TAGS) == 13
