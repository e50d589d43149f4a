"""The one entity shape every backend returns."""

from __future__ import annotations

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
