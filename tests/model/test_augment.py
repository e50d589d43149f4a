"""Entity lists without separators: the augmentation keeps tags aligned with characters."""

from __future__ import annotations

import pytest
from ner_inference.builtin import msra
from ner_inference.builtin.augment import join_lists
from ner_inference.builtin.tags import entities_from_tags
from ner_inference.builtin.train import parse_args, prepare, version_name


def tagged(*parts: tuple[str, str]) -> tuple[str, list[str]]:
    """``(piece, type)`` pairs -> a sentence; type "" is outside any entity."""
    text, tags = "", []
    for piece, kind in parts:
        text += piece
        if not kind:
            tags += ["O"] * len(piece)
        elif len(piece) == 1:
            tags.append(f"S-{kind}")
        else:
            tags += [f"B-{kind}", *[f"M-{kind}"] * (len(piece) - 2), f"E-{kind}"]
    return text, tags


def spans(sentence: tuple[str, list[str]]) -> list[tuple[str, str]]:
    return [(e.type, e.span) for e in entities_from_tags(*sentence)]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        pytest.param(
            tagged(
                ("出席的有", ""), ("霍英东", "PER"), ("、", ""), ("马万祺", "PER"), ("、", ""),
                ("朱光亚", "PER"), ("等。", ""),
            ),
            "出席的有霍英东马万祺朱光亚等。",
            id="a list of names loses its separators",
        ),
        pytest.param(
            tagged(
                ("北京", "LOC"), ("、", ""), ("上海", "LOC"), ("、", ""), ("张三", "PER"),
                ("和", ""), ("李四", "PER"), ("、", ""), ("王五", "PER"), ("、", ""), ("苹果", ""),
                (" ", ""), ("朱", "PER"), (" ", ""), ("德", "LOC"),
            ),
            "北京、上海、张三和李四王五、苹果 朱 德",
            id="only separators between two names go",
        ),
    ],
)  # fmt: skip
def test_joined_copy_keeps_every_entity(sentence: tuple[str, list[str]], expected: str) -> None:
    joined = join_lists(sentence)
    assert joined is not None
    assert joined[0] == expected
    assert spans(joined) == spans(sentence)


def test_a_sentence_without_a_list_gives_no_copy() -> None:
    assert join_lists(tagged(("苹果、香蕉和", ""), ("张三", "PER"))) is None
    assert join_lists(("", [])) is None


def test_training_adds_the_joined_copies_and_names_the_model_after_them() -> None:
    args = parse_args(["--join-lists", "--dev-fraction", "0", "--max-sentences", "3000"])
    copies = [j for j in map(join_lists, msra.read("train")[:3000]) if j is not None]
    assert copies  # the first 3,000 sentences hold lists of names
    data = prepare(args)
    assert len(data.train) == 3000 + len(copies)
    assert [list(e.chars) for e in data.train[3000:]] == [
        list(data.encoder.encode(text).chars) for text, _ in copies
    ]
    assert version_name(args, 30) == "msra+lists-all-e30"
