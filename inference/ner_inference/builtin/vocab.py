"""Character and bigram vocabularies, and the 1:1 character normalisation they share.

Normalisation maps each character to exactly one key, so encoded positions are
positions in the original text and offsets never drift.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

PAD, UNK = "<pad>", "<unk>"
UNK_ID = 1
BOUNDARY = "<s>"


@lru_cache(maxsize=1 << 16)  # encoding calls this for every character of every text
def normalize_char(ch: str) -> str:
    """Fold full-width forms, case and digits; whitespace and controls become one key."""
    if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"):
        return " "
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        folded = ch
    if folded.isdigit():
        return "0"
    lowered = folded.lower()
    # One character in, one out: "İ".lower() has two, and would shift every offset after it.
    return lowered if len(lowered) == 1 else folded


class Vocab:
    """Index of strings with ``<pad>`` = 0 and ``<unk>`` = 1."""

    def __init__(self, items: Sequence[str]) -> None:
        # dict.fromkeys: vocabularies merged from several sources keep one row per item.
        self.items: list[str] = list(dict.fromkeys([PAD, UNK, *items]))
        self.index: dict[str, int] = {s: i for i, s in enumerate(self.items)}

    def __len__(self) -> int:
        return len(self.items)

    def ids(self, keys: Iterable[str]) -> npt.NDArray[np.int64]:
        index = self.index  # a local name: this runs for every character encoded
        return np.array([index.get(k, UNK_ID) for k in keys], dtype=np.int64)

    @classmethod
    def build(cls, counts: Counter[str], min_count: int) -> Vocab:
        kept = [s for s, c in counts.most_common() if c >= min_count]
        return cls(kept)


def bigrams(chars: Sequence[str]) -> list[str]:
    """The ``n + 1`` bigrams of ``n`` characters with boundaries: position ``i`` has
    the left bigram ``[i]`` and the right bigram ``[i + 1]``."""
    padded = [BOUNDARY, *chars, BOUNDARY]
    return [a + b for a, b in itertools.pairwise(padded)]


def count_units(sentences: Iterable[str]) -> tuple[Counter[str], Counter[str]]:
    chars: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for sentence in sentences:
        norm = [normalize_char(c) for c in sentence]
        chars.update(norm)
        pairs.update(bigrams(norm))
    return chars, pairs
