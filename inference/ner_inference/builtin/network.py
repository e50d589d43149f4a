"""The tagger: character + bigram embeddings and lexicon features -> BiLSTM -> CRF."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ner_inference.builtin.crf import CRF
from ner_inference.builtin.lexicon import N_FEATURES
from ner_inference.builtin.tags import TAGS


@dataclass(frozen=True)
class NetworkConfig:
    n_chars: int
    n_bigrams: int
    char_dim: int = 100
    bigram_dim: int = 50
    hidden: int = 128
    dropout: float = 0.5

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


@dataclass
class Batch:
    """Padded inputs of one batch; ``bigrams`` is one longer than ``chars`` (see vocab.bigrams)."""

    chars: Tensor  # [B, T] int64
    bigrams: Tensor  # [B, T + 1] int64
    lexicon: Tensor  # [B, T, N_FEATURES] float32
    lengths: Tensor  # [B] int64, on CPU
    mask: Tensor  # [B, T] bool


class Tagger(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.char_embedding = nn.Embedding(config.n_chars, config.char_dim, padding_idx=0)
        self.bigram_embedding = nn.Embedding(config.n_bigrams, config.bigram_dim, padding_idx=0)
        width = config.char_dim + 2 * config.bigram_dim + N_FEATURES
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(width, config.hidden, batch_first=True, bidirectional=True)
        self.emit = nn.Linear(2 * config.hidden, len(TAGS))
        self.crf = CRF()

    def emissions(self, batch: Batch) -> Tensor:
        bigram = self.bigram_embedding(batch.bigrams)
        x = torch.cat(
            [self.char_embedding(batch.chars), bigram[:, :-1], bigram[:, 1:], batch.lexicon], dim=2
        )
        packed = pack_padded_sequence(
            self.dropout(x), batch.lengths, batch_first=True, enforce_sorted=False
        )
        hidden, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(hidden, batch_first=True, total_length=x.size(1))
        emissions: Tensor = self.emit(self.dropout(out))
        return emissions

    def loss(self, batch: Batch, tags: Tensor) -> Tensor:
        return self.crf.neg_log_likelihood(self.emissions(batch), tags, batch.mask)

    def decode(self, batch: Batch) -> list[list[int]]:
        return self.crf.decode(self.emissions(batch), batch.mask)
