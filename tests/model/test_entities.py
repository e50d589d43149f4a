from ner_inference.entities import Entity, trimmed


def test_trim_moves_offsets_with_the_span() -> None:
    assert trimmed(Entity("ORG", 3, 10, " 😀新华社。 ")) == Entity("ORG", 5, 8, "新华社")


def test_untouched_entity_is_returned_as_is() -> None:
    e = Entity("PER", 0, 3, "李克强")
    assert trimmed(e) is e


def test_noise_only_and_line_crossing_spans_are_dropped() -> None:
    assert trimmed(Entity("LOC", 0, 3, " \u200d ")) is None
    assert trimmed(Entity("LOC", 0, 5, "北京\n上海")) is None
