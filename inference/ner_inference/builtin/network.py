"""The tagger: character + bigram embeddings and lexicon features -> BiLSTM -> CRF."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ner_inference.builtin.crf import CRF, Targets
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
    # SoftLexicon word embeddings (0 words: the lexicon gives scalar features only).
    n_words: int = 0
    word_dim: int = 50
    # Frozen character language models (charlm) whose states join the LSTM's input; 0: none.
    lm_hidden: int = 0

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


# B, M and E sets: the words in which a character stands first, inside, last.
WORD_SETS = 3


@dataclass
class WordSets:
    """Flat bag contents: word ``rows[k]`` joins bag ``bags[k]`` with ``weights[k]``; bag
    ``(b * T + t) * WORD_SETS + s`` is set ``s`` of character ``t`` in sequence ``b``."""

    bags: Tensor  # [N] int64
    rows: Tensor  # [N] int64
    weights: Tensor  # [N] float32


@dataclass
class Batch:
    """Padded inputs of one batch; ``bigrams`` is one longer than ``chars`` (see vocab.bigrams)."""

    chars: Tensor  # [B, T] int64
    bigrams: Tensor  # [B, T + 1] int64
    lexicon: Tensor  # [B, T, N_FEATURES] float32
    words: WordSets
    lengths: Tensor  # [B] int64, on CPU
    mask: Tensor  # [B, T] bool


class Tagger(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.char_embedding = nn.Embedding(config.n_chars, config.char_dim, padding_idx=0)
        self.bigram_embedding = nn.Embedding(config.n_bigrams, config.bigram_dim, padding_idx=0)
        width = config.char_dim + 2 * config.bigram_dim + N_FEATURES
        self.word_embedding: nn.Embedding | None = None
        if config.n_words:
            self.word_embedding = nn.Embedding(config.n_words, config.word_dim, padding_idx=0)
            width += WORD_SETS * config.word_dim
        self.width = width  # of the features, without the language models' states
        self.dropout = nn.Dropout(config.dropout)
        self.lm: nn.LSTM | None = None
        lstm_width = width
        if config.lm_hidden:
            # Both directions read the same input; each has zero weights for what it must not see.
            self.lm = nn.LSTM(width, config.lm_hidden, batch_first=True, bidirectional=True)
            self.lm.requires_grad_(False)
            lstm_width += 2 * config.lm_hidden
        self.lstm = nn.LSTM(lstm_width, config.hidden, batch_first=True, bidirectional=True)
        self.emit = nn.Linear(2 * config.hidden, len(TAGS))
        self.crf = CRF()

    def emissions(self, batch: Batch) -> Tensor:
        out = self._run(self.lstm, self.dropout(self.inputs(batch)), batch.lengths)
        emissions: Tensor = self.emit(self.dropout(out))
        return emissions

    def inputs(self, batch: Batch) -> Tensor:
        """``[B, T, lstm.input_size]``: embeddings, lexicon features, word sets, then the
        language models' states."""
        bigram = self.bigram_embedding(batch.bigrams)
        parts = [self.char_embedding(batch.chars), bigram[:, :-1], bigram[:, 1:], batch.lexicon]
        if self.word_embedding is not None:
            parts.append(self._word_sets(batch))
        x = torch.cat(parts, dim=2)
        if self.lm is not None:
            x = torch.cat([x, self._run(self.lm, x, batch.lengths)], dim=2)
        return x

    @staticmethod
    def _run(lstm: nn.LSTM, x: Tensor, lengths: Tensor) -> Tensor:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        hidden, _ = lstm(packed)
        out: Tensor = pad_packed_sequence(hidden, batch_first=True, total_length=x.size(1))[0]
        return out

    def _word_sets(self, batch: Batch) -> Tensor:
        """``[B, T, WORD_SETS * word_dim]``: the weighted sum of each set's word vectors."""
        assert self.word_embedding is not None
        size, steps = batch.chars.shape
        words = batch.words
        vectors = self.word_embedding(words.rows) * words.weights.unsqueeze(1)
        sums = vectors.new_zeros(size * steps * WORD_SETS, self.config.word_dim)
        out: Tensor = sums.index_add_(0, words.bags, vectors).view(size, steps, -1)
        return out

    def loss(self, batch: Batch, targets: Targets) -> Tensor:
        return self.crf.cross_entropy(self.emissions(batch), targets, batch.mask)

    def decode(self, batch: Batch) -> list[list[int]]:
        return self.crf.decode(self.emissions(batch), batch.mask)
