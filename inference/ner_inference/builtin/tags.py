"""BMES tags over PER/LOC/ORG: the tag set, which transitions are legal, tags -> entities."""

from __future__ import annotations

from collections.abc import Sequence

from ner_inference.entities import ENTITY_TYPES, Entity, EntityType

TAGS: tuple[str, ...] = ("O", *(f"{p}-{t}" for t in ENTITY_TYPES for p in "BMES"))
TAG_INDEX: dict[str, int] = {tag: i for i, tag in enumerate(TAGS)}


def _split(tag: str) -> tuple[str, str]:
    return ("O", "") if tag == "O" else (tag[0], tag[2:])


def allowed_transition(prev: str, cur: str) -> bool:
    """Whether ``cur`` may follow ``prev`` in a well-formed BMES sequence."""
    p, p_type = _split(prev)
    c, c_type = _split(cur)
    if p in ("B", "M"):
        return c in ("M", "E") and c_type == p_type
    return c in ("O", "B", "S")


def allowed_start(tag: str) -> bool:
    return _split(tag)[0] in ("O", "B", "S")


def allowed_end(tag: str) -> bool:
    return _split(tag)[0] in ("O", "E", "S")


def entities_from_tags(text: str, tags: Sequence[str]) -> list[Entity]:
    """Spans of well-formed B..E / S runs; malformed runs (gold data has a few) are dropped."""
    found: list[Entity] = []
    start: int | None = None
    for i, tag in enumerate(tags):
        pos, kind = _split(tag)
        if pos == "S":
            found.append(Entity(_entity_type(kind), i, i + 1, text[i : i + 1]))
            start = None
        elif pos == "B":
            start = i
        elif pos == "E" and start is not None and tags[start][2:] == kind:
            found.append(Entity(_entity_type(kind), start, i + 1, text[start : i + 1]))
            start = None
        elif pos == "M" and start is not None and tags[start][2:] == kind:
            continue
        else:
            start = None
    return found


def _entity_type(kind: str) -> EntityType:
    for t in ENTITY_TYPES:
        if t == kind:
            return t
    raise ValueError(f"unknown entity type {kind!r}")
