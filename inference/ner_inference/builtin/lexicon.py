"""Lexicon knowledge from jieba's dictionary, as SoftLexicon-style features per character.

For every character and each of its positions in a matched dictionary word
(B begin, M middle, E end, S single) we record, per part-of-speech group, the
strongest match (log frequency, scaled to 0..1). Person (nr), place (ns) and
organisation (nt) tags in jieba's dictionary are exactly the hints NER needs.
"""

from __future__ import annotations

import math
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


class Lexicon:
    """Words -> (POS group, weight in 0..1)."""

    def __init__(self, words: dict[str, tuple[int, float]]) -> None:
        self.words = words
        self.max_len = min(MAX_WORD_LEN, max((len(w) for w in words), default=1))
        # Every word and every proper prefix of one -> (its match or None, whether longer
        # words start with it): one lookup per substring, and the scan from a character
        # stops as soon as it leaves the dictionary. This is the hot loop of encoding.
        prefixes = {w[:k] for w in words for k in range(1, len(w))}
        self._scan: dict[str, tuple[tuple[int, float] | None, bool]] = {
            w: (hit, w in prefixes) for w, hit in words.items()
        }
        self._scan.update((p, (None, True)) for p in prefixes if p not in words)

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
            weight = math.log1p(float(freq))
            top = max(top, weight)
            raw.append((word.lower(), _group(pos), weight))
        for word, group, weight in raw:
            entries[word] = (group, weight / top)
        return cls(entries)

    def features(self, text: str) -> npt.NDArray[np.float32]:
        """``[len(text), N_FEATURES]``: match strength per (position, POS group)."""
        n = len(text)
        width = len(POS_GROUPS)
        row = len(POSITIONS) * width
        # A flat Python list: element-wise numpy writes would dominate the run time.
        out = [0.0] * (n * row)
        lowered = text.lower()
        scan = self._scan
        longest = self.max_len
        for i in range(n):
            for length in range(1, min(longest, n - i) + 1):
                entry = scan.get(lowered[i : i + length])
                if entry is None:
                    break
                hit, more = entry
                if hit is not None:
                    group, weight = hit
                    if length == 1:
                        cell = i * row + 3 * width + group
                        out[cell] = max(out[cell], weight)
                    else:
                        last = i + length - 1
                        cell = i * row + group
                        out[cell] = max(out[cell], weight)
                        cell = last * row + 2 * width + group
                        out[cell] = max(out[cell], weight)
                        for j in range(i + 1, last):
                            cell = j * row + width + group
                            out[cell] = max(out[cell], weight)
                if not more:
                    break
        return np.asarray(out, dtype=np.float32).reshape(n, row)


@cache
def jieba_lexicon() -> Lexicon:
    return Lexicon.from_jieba()
