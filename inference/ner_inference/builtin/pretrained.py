"""Pre-trained character and bigram vectors (from ``pretrain``) as the tagger's starting point."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from ner_inference.builtin.encoding import Encoder
from ner_inference.builtin.network import Tagger
from ner_inference.builtin.vocab import Vocab


@dataclass(frozen=True)
class Pretrained:
    chars: list[str]  # most frequent first
    char_vectors: npt.NDArray[np.float32]
    bigrams: list[str]  # most frequent first
    bigram_vectors: npt.NDArray[np.float32]
    # Lexicon words of two or more characters, most frequent first (none in older files).
    words: list[str] = field(default_factory=list)
    word_vectors: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, 0), dtype=np.float32)
    )

    @classmethod
    def load(cls, path: Path) -> Pretrained:
        with np.load(path) as blob:
            words = blob["words"] if "words" in blob else np.zeros(0, dtype=str)
            return cls(
                chars=[str(c) for c in blob["chars"]],
                char_vectors=blob["char_vectors"],
                bigrams=[str(b) for b in blob["bigrams"]],
                bigram_vectors=blob["bigram_vectors"],
                words=[str(w) for w in words],
                word_vectors=blob["word_vectors"]
                if "word_vectors" in blob
                else np.zeros((0, 0), dtype=np.float32),
            )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            chars=np.asarray(self.chars),
            char_vectors=self.char_vectors,
            bigrams=np.asarray(self.bigrams),
            bigram_vectors=self.bigram_vectors,
            words=np.asarray(self.words, dtype=str),
            word_vectors=self.word_vectors,
        )

    def initialise(self, tagger: Tagger, encoder: Encoder) -> tuple[int, int, int]:
        """Copy vectors into the tagger's embeddings; how many char, bigram and word rows
        got one."""
        n_words = 0
        if tagger.word_embedding is not None and encoder.words is not None:
            n_words = _copy(tagger.word_embedding, encoder.words, self.words, self.word_vectors)
        return (
            _copy(tagger.char_embedding, encoder.chars, self.chars, self.char_vectors),
            _copy(tagger.bigram_embedding, encoder.bigrams, self.bigrams, self.bigram_vectors),
            n_words,
        )


def _copy(
    embedding: nn.Embedding, vocab: Vocab, words: list[str], vectors: npt.NDArray[np.float32]
) -> int:
    if vectors.shape[1] != embedding.embedding_dim:
        raise ValueError(
            f"pre-trained vectors have {vectors.shape[1]} dimensions,"
            f" the embedding {embedding.embedding_dim}"
        )
    # Rows without a vector keep torch's N(0, 1) init; scaling the vectors to the same
    # spread keeps both kinds of rows on one footing for the LSTM.
    scaled = torch.from_numpy(vectors / max(float(vectors.std()), 1e-6))
    pairs = [(vocab.index[w], i) for i, w in enumerate(words) if w in vocab.index]
    if pairs:
        rows, sources = zip(*pairs, strict=True)
        with torch.no_grad():
            embedding.weight[list(rows)] = scaled[list(sources)]
    return len(pairs)
