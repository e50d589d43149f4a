"""Training-data augmentation: entity lists written without separators.

People's Daily writes lists of names both ways: 霍英东、马万祺、朱光亚 and 霍英东马万祺朱光亚
(committee and delegate lists). MSRA train has mostly the first form, MSRA test mostly
the second; a tagger that saw only separated lists cuts run-together names at the wrong
character. A copy of each training sentence whose list of names loses its separators shows both.
Only names: lists of places and organisations keep their separators in running text, and
joining them (故宫历博古研所) taught the tagger boundaries that news does not write
(docs/model.md).
"""

from __future__ import annotations

from itertools import pairwise

from ner_inference.builtin.msra import Sentence
from ner_inference.builtin.tags import entities_from_tags

LIST_SEPARATORS = frozenset("、 \u3000")
LIST_TYPES = frozenset({"PER"})


def join_lists(sentence: Sentence) -> Sentence | None:
    """The sentence without the separators between neighbouring names, or None when it
    has no such list."""
    text, tags = sentence
    entities = entities_from_tags(text, tags)
    drop = {
        a.end
        for a, b in pairwise(entities)
        if a.type == b.type in LIST_TYPES
        and b.start == a.end + 1
        and text[a.end] in LIST_SEPARATORS
    }
    if not drop:
        return None
    keep = [i for i in range(len(text)) if i not in drop]
    return "".join(text[i] for i in keep), [tags[i] for i in keep]
