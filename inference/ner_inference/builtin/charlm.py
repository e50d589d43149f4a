"""Two character language models on the tagger's inputs (pre-trained by ``lm_pretrain``).

The forward LSTM learns to predict the next character, the backward one the previous
character, over the text ``pretrain`` reads (inews plus MSRA train, never MSRA test). A
language model must not see what it predicts: the forward direction gets the character
and its left bigram only, the backward one the character and its right bigram; the
lexicon features (which match words in both directions) are zero. The embeddings stay
frozen at their skip-gram values, so that the two directions, trained apart, share them.

Two uses (docs/model.md has what each did): ``initialise`` starts the tagger's own LSTM
from them, one direction each (serving costs nothing more); ``attach`` loads them as the
tagger's frozen ``lm``, whose states join its LSTM's input.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ner_inference.builtin.encoding import Encoder
from ner_inference.builtin.network import Tagger
from ner_inference.builtin.vocab import bigrams

Direction = Literal["forward", "backward"]
DIRECTIONS: tuple[Direction, ...] = ("forward", "backward")
# The end of a sentence is predicted as the padding id: it never occurs as a character.
END = 0
_Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Sequence:
    """One sentence in reading order of its direction: the LSTM's char and bigram inputs
    and the character each position predicts."""

    chars: _Ints
    bigrams: _Ints
    targets: _Ints


def vocab_digest(encoder: Encoder) -> str:
    """Ties a language model file to the vocabulary whose rows it was trained on."""
    joined = "\n".join([*encoder.chars.items, "\x00", *encoder.bigrams.items])
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def sequence(encoder: Encoder, chars: list[str], direction: Direction) -> Sequence:
    """Forward: character and left bigram, predicting the next character; backward: the
    sentence reversed, character and right bigram, predicting the previous character."""
    ids = encoder.chars.ids(chars)
    pairs = encoder.bigrams.ids(bigrams(chars))  # n + 1: left of i is [i], right is [i + 1]
    if direction == "forward":
        return Sequence(ids, pairs[:-1], np.append(ids[1:], END))
    return Sequence(ids[::-1].copy(), pairs[1:][::-1].copy(), np.append(ids[-2::-1], END))


class CharLM(nn.Module):
    """One direction of the tagger's LSTM with an adaptive softmax over its characters."""

    def __init__(self, tagger: Tagger, direction: Direction, dropout: float) -> None:
        super().__init__()
        self.direction = direction
        self.char_embedding = tagger.char_embedding
        self.bigram_embedding = tagger.bigram_embedding
        self.width = tagger.width
        self.lstm = nn.LSTM(self.width, tagger.lstm.hidden_size, batch_first=True)
        n_chars = tagger.config.n_chars
        # Frequent characters get the full softmax, rare ones share smaller clusters.
        cutoffs = [c for c in (1000, 3000) if c < n_chars - 1] or [n_chars // 2]
        self.head = nn.AdaptiveLogSoftmaxWithLoss(
            tagger.lstm.hidden_size, n_chars, cutoffs=cutoffs, div_value=4.0
        )
        self.dropout = nn.Dropout(dropout)

    def inputs(self, chars: Tensor, pairs: Tensor) -> Tensor:
        """``[B, T, width]`` laid out like the tagger's input: char, left bigram, right
        bigram, lexicon; the slots this direction must not see stay zero."""
        char = self.char_embedding(chars)
        pair = self.bigram_embedding(pairs)
        zeros = char.new_zeros(*chars.shape, self.width - char.size(2) - 2 * pair.size(2))
        blank = torch.zeros_like(pair)
        slots = [pair, blank] if self.direction == "forward" else [blank, pair]
        return torch.cat([char, *slots, zeros], dim=2)

    def loss(self, batch: list[Sequence]) -> Tensor:
        """Mean negative log-likelihood per predicted character."""
        lengths = torch.tensor([len(s.chars) for s in batch])
        width = int(lengths.max())
        chars = torch.zeros(len(batch), width, dtype=torch.int64)
        pairs = torch.zeros_like(chars)
        targets = torch.full_like(chars, -1)
        for row, s in enumerate(batch):
            n = len(s.chars)
            chars[row, :n] = torch.from_numpy(s.chars)
            pairs[row, :n] = torch.from_numpy(s.bigrams)
            targets[row, :n] = torch.from_numpy(s.targets)
        packed = pack_padded_sequence(
            self.dropout(self.inputs(chars, pairs)), lengths, batch_first=True, enforce_sorted=False
        )
        hidden, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(hidden, batch_first=True, total_length=width)
        keep = targets >= 0
        result: Tensor = self.head(self.dropout(out)[keep], targets[keep]).loss
        return result


def _load(encoder: Encoder, directory: Path) -> dict[Direction, dict[str, Any]]:
    states: dict[Direction, dict[str, Any]] = {
        d: torch.load(directory / f"{d}.pt", weights_only=False) for d in DIRECTIONS
    }
    for direction, state in states.items():
        if state["vocab"] != vocab_digest(encoder):
            raise ValueError(
                f"{directory / direction}.pt was trained on another vocabulary:"
                " pre-train it with the same --embeddings, --dev-fraction and --seed"
            )
    return states


def _copy(lstm: nn.LSTM, states: dict[Direction, dict[str, Any]]) -> None:
    with torch.no_grad():
        for direction, suffix in zip(DIRECTIONS, ("", "_reverse"), strict=True):
            for name, value in states[direction]["lstm"].items():
                getattr(lstm, f"{name}{suffix}").copy_(value)


def _copy_embeddings(tagger: Tagger, states: dict[Direction, dict[str, Any]]) -> None:
    with torch.no_grad():
        tagger.char_embedding.weight.copy_(states["forward"]["char_embedding"])
        tagger.bigram_embedding.weight.copy_(states["forward"]["bigram_embedding"])


def initialise(tagger: Tagger, encoder: Encoder, directory: Path) -> None:
    """Start the tagger's LSTM from ``forward.pt`` and ``backward.pt`` in ``directory``, one
    direction each, and its embeddings from the ones they were trained with."""
    states = _load(encoder, directory)
    _copy_embeddings(tagger, states)
    _copy(tagger.lstm, states)


def attach(tagger: Tagger, encoder: Encoder, directory: Path) -> None:
    """Load the language models as the tagger's frozen ``lm`` (whose states feed its LSTM),
    with zero weights for the inputs each direction must not see."""
    if tagger.lm is None:
        raise ValueError("the tagger has no language model slot (NetworkConfig.lm_hidden)")
    states = _load(encoder, directory)
    _copy_embeddings(tagger, states)
    _copy(tagger.lm, states)
    config = tagger.config
    left = slice(config.char_dim, config.char_dim + config.bigram_dim)
    right = slice(left.stop, left.stop + config.bigram_dim)
    rest = slice(right.stop, None)  # lexicon (and word sets): matches in both directions
    with torch.no_grad():
        for suffix, unseen in (("", right), ("_reverse", left)):
            weight = getattr(tagger.lm, f"weight_ih_l0{suffix}")
            weight[:, unseen] = 0.0
            weight[:, rest] = 0.0
