"""Texts -> padded tensors for the tagger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from ner_inference.builtin.lexicon import N_FEATURES, Lexicon, Scan, cells
from ner_inference.builtin.network import WORD_SETS, Batch, WordSets
from ner_inference.builtin.vocab import Vocab, bigrams, normalize_char

_Ints = npt.NDArray[np.int64]
_Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Encoded:
    chars: _Ints
    bigrams: _Ints
    lexicon: _Floats
    # SoftLexicon word sets: for each (character, set) bag ``position * WORD_SETS + set``
    # (set 0 = B, 1 = M, 2 = E), the matched words' embedding rows and their weights.
    word_bags: _Ints
    word_rows: _Ints
    word_weights: _Floats


class Encoder:
    def __init__(
        self, chars: Vocab, bigram_vocab: Vocab, lexicon: Lexicon, words: Vocab | None = None
    ) -> None:
        self.chars = chars
        self.bigrams = bigram_vocab
        self.lexicon = lexicon
        self.words = words  # None: no word sets (every bag stays empty)
        # Lexicon entry -> word embedding row; 0 (padding) for words without a vector.
        index = words.index if words is not None else {}
        self._word_rows = np.array([index.get(w, 0) for w in lexicon.entries], dtype=np.int64)

    def encode(self, text: str) -> Encoded:
        [encoded] = self.encode_many([text])
        return encoded

    def encode_many(self, texts: Sequence[str]) -> list[Encoded]:
        """One lexicon pass over all ``texts``: much cheaper than one per text."""
        normalised = [list(map(normalize_char, text)) for text in texts]
        scan = self.lexicon.scan(["".join(norm) for norm in normalised])
        positions, sets, rows, weights = self._word_sets(scan)
        bounds = np.searchsorted(positions, [*scan.firsts, scan.features.shape[0] + 1])
        return [
            Encoded(
                self.chars.ids(norm),
                self.bigrams.ids(bigrams(norm)),
                grid,
                word_bags=(positions[part] - first) * WORD_SETS + sets[part],
                word_rows=rows[part],
                word_weights=weights[part],
            )
            for norm, grid, first, part in zip(
                normalised,
                scan.grids(),
                scan.firsts,
                map(slice, bounds[:-1], bounds[1:]),
                strict=True,
            )
        ]

    def _word_sets(self, scan: Scan) -> tuple[_Ints, _Ints, _Ints, _Floats]:
        """(position, set, word row, weight) of every SoftLexicon set member, by position.

        A word of two or more characters that has a vector joins the B set of its first
        character, the E set of its last and the M set of those between, weighted by its
        dictionary frequency and normalised over all words covering the character."""
        rows = self._word_rows[scan.entries]
        keep = (rows > 0) & (scan.lengths > 1)
        positions, sets, match = cells(scan.starts[keep], scan.lengths[keep])  # B, M, E: 0, 1, 2
        order = np.argsort(positions, kind="stable")
        positions, sets, match = positions[order], sets[order], match[order]
        z = self.lexicon.weights[scan.entries[keep]][match]
        total = np.bincount(positions, weights=z, minlength=scan.features.shape[0])
        weights = (z / np.maximum(total[positions], 1e-6)).astype(np.float32)
        return positions, sets, rows[keep][match], weights


def collate(items: Sequence[Encoded]) -> Batch:
    """Pad to the longest item. Every item must be non-empty."""
    lengths = [len(item.chars) for item in items]
    width = max(lengths)
    chars = np.zeros((len(items), width), dtype=np.int64)
    pairs = np.zeros((len(items), width + 1), dtype=np.int64)
    lexicon = np.zeros((len(items), width, N_FEATURES), dtype=np.float32)
    for row, item in enumerate(items):
        n = lengths[row]
        chars[row, :n] = item.chars
        pairs[row, : n + 1] = item.bigrams
        lexicon[row, :n] = item.lexicon
    length_tensor = torch.tensor(lengths, dtype=torch.int64)
    return Batch(
        chars=torch.from_numpy(chars),
        bigrams=torch.from_numpy(pairs),
        lexicon=torch.from_numpy(lexicon),
        words=WordSets(
            bags=torch.from_numpy(
                np.concatenate(
                    [item.word_bags + row * width * WORD_SETS for row, item in enumerate(items)]
                )
            ),
            rows=torch.from_numpy(np.concatenate([item.word_rows for item in items])),
            weights=torch.from_numpy(np.concatenate([item.word_weights for item in items])),
        ),
        lengths=length_tensor,
        mask=torch.arange(width).unsqueeze(0) < length_tensor.unsqueeze(1),
    )
