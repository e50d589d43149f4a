"""Lexicon knowledge from jieba's dictionary, as SoftLexicon-style features per character.

For every character and each of its positions in a matched dictionary word
(B begin, M middle, E end, S single) we record, per part-of-speech group, the
strongest match (log frequency, scaled to 0..1). Person (nr), place (ns) and
organisation (nt) tags in jieba's dictionary are exactly the hints NER needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

# Part-of-speech groups, by jieba tag prefix; the last group takes everything else.
POS_GROUPS: tuple[str, ...] = ("nr", "ns", "nt", "nz", "n", "v", "other")
POSITIONS: tuple[str, ...] = ("B", "M", "E", "S")
N_FEATURES = len(POS_GROUPS) * len(POSITIONS)
MAX_WORD_LEN = 8


def _group(pos: str) -> int:
    for i, prefix in enumerate(POS_GROUPS[:-1]):
        if pos.startswith(prefix) and (prefix != "n" or pos == "n"):
            return i
    return len(POS_GROUPS) - 1


# Substrings are matched by a 64-bit polynomial hash per length, so a whole batch is scanned
# with a few numpy calls per word length instead of a Python loop per character (that loop
# held the GIL and kept two inference threads from running side by side). For strings of at
# most 8 code points, two distinct ones share a hash with odds far below 1e-9 over the whole
# dictionary; tests compare the result with an exhaustive scan.
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
# Joins the texts of a batch; normalised text never contains it (controls become spaces).
_SEPARATOR = "\x00"


def _codes(text: str) -> npt.NDArray[np.uint64]:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64) + 1


_Floats = npt.NDArray[np.float32]
_Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Scan:
    """The dictionary words found in a batch of texts, scanned as one string (the texts
    joined by a separator that no word contains)."""

    features: _Floats  # [total length, N_FEATURES]: the ``features`` grid of the joined text
    starts: _Ints  # every match: where it starts in the joined text,
    lengths: _Ints  # how many characters it has,
    entries: _Ints  # and which entry of Lexicon.entries it is
    firsts: _Ints  # where each text starts in the joined text
    sizes: list[int]  # how long each text is

    def grids(self) -> list[_Floats]:
        """The ``features`` grid of each text."""
        return [
            self.features[first : first + size]
            for first, size in zip(self.firsts, self.sizes, strict=True)
        ]


class Lexicon:
    """Words -> (POS group, weight in 0..1)."""

    def __init__(self, words: dict[str, tuple[int, float]]) -> None:
        self.words = words
        self.entries: list[str] = list(words)
        self.groups: _Ints = np.array([g for g, _ in words.values()], dtype=np.int64)
        self.weights: _Floats = np.array([w for _, w in words.values()], dtype=np.float32)
        self.max_len = min(MAX_WORD_LEN, max((len(w) for w in words), default=1))
        # Per word length: sorted hashes, and the entry of each.
        self._tables: list[tuple[npt.NDArray[np.uint64], _Ints]] = []
        for length in range(1, self.max_len + 1):
            same = [i for i, w in enumerate(self.entries) if len(w) == length]
            codes = _codes("".join(self.entries[i] for i in same)).reshape(len(same), length)
            hashes = codes[:, 0].copy()
            for k in range(1, length):
                hashes = hashes * _MULTIPLIER + codes[:, k]
            order = np.argsort(hashes)
            self._tables.append((hashes[order], np.array(same, dtype=np.int64)[order]))

    @classmethod
    def from_jieba(cls) -> Lexicon:
        import jieba

        path = Path(jieba.__file__).parent / "dict.txt"
        return cls.from_lines(path.read_text(encoding="utf-8").splitlines())

    @classmethod
    def from_lines(cls, lines: list[str]) -> Lexicon:
        entries: dict[str, tuple[int, float]] = {}
        top = 1.0
        raw: list[tuple[str, int, float]] = []
        for line in lines:
            parts = line.split()
            if len(parts) != 3 or len(parts[0]) > MAX_WORD_LEN:
                continue
            word, freq, pos = parts
            lowered = word.lower()
            if len(lowered) != len(word) or _SEPARATOR in word:
                continue  # lower() that changes length would shift every offset after it
            weight = math.log1p(float(freq))
            top = max(top, weight)
            raw.append((lowered, _group(pos), weight))
        for word, group, weight in raw:
            entries[word] = (group, weight / top)
        return cls(entries)

    def features(self, text: str) -> npt.NDArray[np.float32]:
        """``[len(text), N_FEATURES]``: match strength per (position, POS group).

        ``text`` is normalised (``vocab.normalize_char``): lower case, one character each."""
        [grid] = self.features_many([text])
        return grid

    def features_many(self, texts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        """``features`` of every text, computed in one pass over all of them."""
        return self.scan(texts).grids()

    def scan(self, texts: Sequence[str]) -> Scan:
        joined = _SEPARATOR.join(texts)
        starts, lengths, entries = self._matches(joined)
        width = len(POS_GROUPS)
        out = np.zeros((len(joined), len(POSITIONS) * width), dtype=np.float32)
        rows, roles, match = cells(starts, lengths)
        cols = roles * width + self.groups[entries[match]]
        np.maximum.at(out, (rows, cols), self.weights[entries[match]])
        sizes = [len(t) for t in texts]
        firsts = np.cumsum([0, *(size + 1 for size in sizes[:-1])]).astype(np.int64)
        return Scan(out, starts, lengths, entries, firsts, sizes)

    def _matches(self, joined: str) -> tuple[_Ints, _Ints, _Ints]:
        codes = _codes(joined)
        starts: list[_Ints] = []
        lengths: list[_Ints] = []
        entries: list[_Ints] = []
        hashes = codes
        for length, (table, entry) in enumerate(self._tables, 1):
            if length > 1:
                hashes = hashes[:-1] * _MULTIPLIER + codes[length - 1 :]
            if not len(hashes) or not len(table):
                continue
            found = np.minimum(np.searchsorted(table, hashes), len(table) - 1)
            hits = np.flatnonzero(table[found] == hashes)
            starts.append(hits)
            lengths.append(np.full(len(hits), length, dtype=np.int64))
            entries.append(entry[found[hits]])
        if not starts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        return np.concatenate(starts), np.concatenate(lengths), np.concatenate(entries)


def cells(starts: _Ints, lengths: _Ints) -> tuple[_Ints, _Ints, _Ints]:
    """The characters that matches cover: (position, role, match index) per cell, where the
    role indexes POSITIONS: S for a single character; B, M.., E for longer words."""
    single = lengths == 1
    inner = np.maximum(lengths - 2, 0)
    first_inner = np.cumsum(inner) - inner
    # 0, 1, .., n - 1 for each match's n inner characters, concatenated.
    ranks = np.arange(int(inner.sum()), dtype=np.int64) - np.repeat(first_inner, inner)
    longer = np.flatnonzero(~single)
    return (
        np.concatenate(
            [
                starts[single],
                starts[longer],
                starts[longer] + lengths[longer] - 1,
                np.repeat(starts + 1, inner) + ranks,
            ]
        ),
        np.repeat(
            np.array([3, 0, 2, 1]), [int(single.sum()), len(longer), len(longer), len(ranks)]
        ),
        np.concatenate(
            [np.flatnonzero(single), longer, longer, np.repeat(np.arange(len(starts)), inner)]
        ),
    )


@cache
def jieba_lexicon() -> Lexicon:
    return Lexicon.from_jieba()
