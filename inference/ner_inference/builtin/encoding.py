"""Texts -> padded tensors for the tagger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from ner_inference.builtin.lexicon import N_FEATURES, Lexicon
from ner_inference.builtin.network import Batch
from ner_inference.builtin.vocab import Vocab, bigrams, normalize_char


@dataclass(frozen=True)
class Encoded:
    chars: npt.NDArray[np.int64]
    bigrams: npt.NDArray[np.int64]
    lexicon: npt.NDArray[np.float32]


class Encoder:
    def __init__(self, chars: Vocab, bigram_vocab: Vocab, lexicon: Lexicon) -> None:
        self.chars = chars
        self.bigrams = bigram_vocab
        self.lexicon = lexicon

    def encode(self, text: str) -> Encoded:
        [encoded] = self.encode_many([text])
        return encoded

    def encode_many(self, texts: Sequence[str]) -> list[Encoded]:
        """One lexicon pass over all ``texts``: much cheaper than one per text."""
        normalised = [list(map(normalize_char, text)) for text in texts]
        grids = self.lexicon.features_many(["".join(norm) for norm in normalised])
        return [
            Encoded(
                chars=self.chars.ids(norm), bigrams=self.bigrams.ids(bigrams(norm)), lexicon=grid
            )
            for norm, grid in zip(normalised, grids, strict=True)
        ]


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
        lengths=length_tensor,
        mask=torch.arange(width).unsqueeze(0) < length_tensor.unsqueeze(1),
    )
