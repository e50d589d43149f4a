"""The one entity shape every backend returns."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal, get_args

EntityType = Literal["PER", "LOC", "ORG"]
ENTITY_TYPES: tuple[EntityType, ...] = get_args(EntityType)


@dataclass(frozen=True, slots=True)
class Entity:
    """A typed span of the original text: ``span == text[start:end]`` (end exclusive).

    Offsets are Python ``str`` indices (code points), so they stay exact for any
    Unicode input: emoji, combining marks, control characters, full-width forms.
    """

    type: EntityType
    start: int
    end: int
    span: str

    def shifted(self, offset: int) -> Entity:
        return Entity(self.type, self.start + offset, self.end + offset, self.span)


# Categories a name never starts or ends with: whitespace, controls, format
# characters (ZWJ), punctuation and symbols (emoji are So).
_EDGE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn", "So", "Sk", "Sm", "Sc"})
_LINE_BREAKS = frozenset("\n\r\u2028\u2029\x0b\x0c\x85")


def _is_edge(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category in _EDGE_CATEGORIES or category.startswith("P")


def trimmed(entity: Entity) -> Entity | None:
    """The entity without edge noise, or None when nothing name-like is left.

    Statistical taggers sometimes stretch a span over spaces or emoji they never
    saw in training; no person, place or organisation name begins or ends with
    those, and none runs across a line break.
    """
    span = entity.span
    start, end = 0, len(span)
    while start < end and _is_edge(span[start]):
        start += 1
    while end > start and _is_edge(span[end - 1]):
        end -= 1
    if start == end or any(ch in _LINE_BREAKS for ch in span[start:end]):
        return None
    if (start, end) == (0, len(span)):
        return entity
    return Entity(entity.type, entity.start + start, entity.start + end, span[start:end])
