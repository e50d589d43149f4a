"""Lexicon knowledge from jieba's dictionary, as SoftLexicon-style features per character.

For every character and each of its positions in a matched dictionary word
(B begin, M middle, E end, S single) we record, per part-of-speech group, the
strongest match (log frequency, scaled to 0..1). Person (nr), place (ns) and
organisation (nt) tags in jieba's dictionary are exactly the hints NER needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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


class Lexicon:
    """Words -> (POS group, weight in 0..1)."""

    def __init__(self, words: dict[str, tuple[int, float]]) -> None:
        self.words = words
        self.max_len = min(MAX_WORD_LEN, max((len(w) for w in words), default=1))
        # Per word length: sorted hashes, and the group and weight of each.
        self._tables: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], _Floats]] = []
        for length in range(1, self.max_len + 1):
            same = [w for w in words if len(w) == length]
            codes = _codes("".join(same)).reshape(len(same), length)
            hashes = codes[:, 0].copy()
            for k in range(1, length):
                hashes = hashes * _MULTIPLIER + codes[:, k]
            order = np.argsort(hashes)
            self._tables.append(
                (
                    hashes[order],
                    np.array([words[w][0] for w in same], dtype=np.int64)[order],
                    np.array([words[w][1] for w in same], dtype=np.float32)[order],
                )
            )

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
        joined = _SEPARATOR.join(texts)
        n = len(joined)
        width = len(POS_GROUPS)
        out = np.zeros((n, len(POSITIONS) * width), dtype=np.float32)
        codes = _codes(joined)
        rows: list[npt.NDArray[np.int64]] = []
        cols: list[npt.NDArray[np.int64]] = []
        values: list[npt.NDArray[np.float32]] = []
        hashes = codes
        for length, (table, groups, weights) in enumerate(self._tables, 1):
            if length > 1:
                hashes = hashes[:-1] * _MULTIPLIER + codes[length - 1 :]
            if not len(hashes) or not len(table):
                continue
            found = np.minimum(np.searchsorted(table, hashes), len(table) - 1)
            starts = np.flatnonzero(table[found] == hashes)
            if not len(starts):
                continue
            group, weight = groups[found[starts]], weights[found[starts]]
            if length == 1:
                rows.append(starts)
                cols.append(3 * width + group)
                values.append(weight)
                continue
            rows.extend((starts, starts + length - 1))
            cols.extend((group, 2 * width + group))
            values.extend((weight, weight))
            if length > 2:
                inner = np.arange(1, length - 1)
                rows.append((starts[:, None] + inner).ravel())
                cols.append(np.repeat(width + group, length - 2))
                values.append(np.repeat(weight, length - 2))
        if rows:
            np.maximum.at(out, (np.concatenate(rows), np.concatenate(cols)), np.concatenate(values))
        grids, first = [], 0
        for text in texts:
            grids.append(out[first : first + len(text)])
            first += len(text) + 1
        return grids


@cache
def jieba_lexicon() -> Lexicon:
    return Lexicon.from_jieba()
