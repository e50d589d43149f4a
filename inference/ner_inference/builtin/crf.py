"""A linear-chain CRF whose transitions are constrained to well-formed BMES sequences.

Illegal transitions get a large negative score that is added, not learned, so
Viterbi can never return a malformed tag sequence (e.g. ``O`` followed by ``E-PER``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from ner_inference.builtin.tags import TAGS, allowed_end, allowed_start, allowed_transition

_FORBIDDEN = -10_000.0


def _mask(flags: list[bool]) -> Tensor:
    return torch.tensor([0.0 if ok else _FORBIDDEN for ok in flags])


class SoftTags(NamedTuple):
    """One sequence's soft targets, as a teacher CRF's ``posteriors`` give them."""

    tags: Tensor  # [T, N]: probability of each tag at each step
    transitions: Tensor  # [N, N]: expected count of each transition [from, to]


@dataclass
class Targets:
    """What a path distribution contributes to a CRF's cross-entropy."""

    tags: Tensor  # [B, T, N]: probability of each tag at each step, 0 on padding
    transitions: Tensor  # [B, N, N]: expected count of each transition [from, to]

    @staticmethod
    def from_tags(tags: Tensor, mask: Tensor) -> Targets:
        """One path per sequence: ``tags [B, T]`` with ``mask [B, T]``."""
        size = tags.size(0)
        one_hot = nn.functional.one_hot(tags, len(TAGS)).float() * mask.unsqueeze(2)
        counts = torch.zeros(size, len(TAGS) * len(TAGS))
        pairs = tags[:, :-1] * len(TAGS) + tags[:, 1:]
        counts.scatter_add_(1, pairs, mask[:, 1:].float())
        return Targets(one_hot, counts.view(size, len(TAGS), len(TAGS)))

    @staticmethod
    def collate(items: Sequence[Tensor | SoftTags], mask: Tensor) -> Targets:
        """A batch from per-sequence targets: tag indices ``[T]`` (one path) or soft tags."""
        paths = torch.zeros(mask.shape, dtype=torch.int64)
        hard = mask.clone()
        for row, item in enumerate(items):
            if isinstance(item, SoftTags):
                hard[row] = False
            else:
                paths[row, : len(item)] = item
        targets = Targets.from_tags(paths, hard)
        for row, item in enumerate(items):
            if isinstance(item, SoftTags):
                targets.tags[row, : len(item.tags)] = item.tags
                targets.transitions[row] = item.transitions
        return targets


def log_partition(
    emissions: Tensor, trans: Tensor, start: Tensor, end: Tensor, mask: Tensor
) -> Tensor:
    """``log Z`` per sequence, ``[B]`` (the forward algorithm). ``trans``, ``start`` and
    ``end`` are shared (``[N, N]``, ``[N]``) or per sequence (``[B, N, N]``, ``[B, N]``)."""
    alpha = start + emissions[:, 0]
    for t in range(1, emissions.size(1)):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + trans + emissions[:, t].unsqueeze(1), dim=1)
        alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
    return torch.logsumexp(alpha + end, dim=1)


class CRF(nn.Module):
    transition_mask: Tensor
    start_mask: Tensor
    end_mask: Tensor

    def __init__(self) -> None:
        super().__init__()
        n = len(TAGS)
        self.transitions = nn.Parameter(torch.zeros(n, n))  # [from, to]
        self.start = nn.Parameter(torch.zeros(n))
        self.end = nn.Parameter(torch.zeros(n))
        pairs = [allowed_transition(a, b) for a in TAGS for b in TAGS]
        self.register_buffer("transition_mask", _mask(pairs).view(n, n), persistent=False)
        self.register_buffer(
            "start_mask", _mask([allowed_start(t) for t in TAGS]), persistent=False
        )
        self.register_buffer("end_mask", _mask([allowed_end(t) for t in TAGS]), persistent=False)

    def _scores(self) -> tuple[Tensor, Tensor, Tensor]:
        return (
            self.transitions + self.transition_mask,
            self.start + self.start_mask,
            self.end + self.end_mask,
        )

    def neg_log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Mean over the batch. ``emissions [B, T, N]``, ``tags [B, T]``, ``mask [B, T]`` (bool)."""
        return self.cross_entropy(emissions, Targets.from_tags(tags, mask), mask)

    def cross_entropy(self, emissions: Tensor, targets: Targets, mask: Tensor) -> Tensor:
        """Mean over the batch of ``-E_q[log p(path)]``, ``q`` the distribution ``targets``
        summarise: the negative log-likelihood when ``q`` is one path, and what a student
        minimises to match a teacher CRF's whole distribution, not only its best path.

        A path's score is linear in its tag and transition counts, so ``q``'s per-step tag
        probabilities and expected transition counts are all the expectation needs."""
        trans, start, end = self._scores()
        lengths = mask.sum(1)
        last = targets.tags[torch.arange(emissions.size(0)), lengths - 1]
        expected = (
            (targets.tags * emissions).sum((1, 2))
            + (targets.transitions * trans).sum((1, 2))
            + targets.tags[:, 0] @ start
            + last @ end
        )
        return (log_partition(emissions, trans, start, end, mask) - expected).mean()

    def posteriors(self, emissions: Tensor, mask: Tensor) -> Targets:
        """The distribution over paths as soft targets: each step's tag marginals and the
        expected transition counts, per sequence."""
        trans, start, end = self._scores()
        size = emissions.size(0)
        with torch.enable_grad():
            # The gradients of log Z with respect to the potentials are their expected counts.
            emit = emissions.detach().clone().float().requires_grad_()
            per_trans = trans.detach().expand(size, -1, -1).clone().requires_grad_()
            log_z = log_partition(emit, per_trans, start.detach(), end.detach(), mask).sum()
            tags, transitions = torch.autograd.grad(log_z, [emit, per_trans])
        return Targets(tags * mask.unsqueeze(2), transitions)

    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """Best tag indices per sequence (Viterbi), each as long as its mask.

        In numpy: on these small [B, 13, 13] arrays a numpy call costs a fraction of a
        torch op's dispatch, and the loop runs once per character of the longest text."""
        trans_t, start_t, end_t = self._scores()
        trans = trans_t.detach().numpy()
        emit = emissions.detach().float().numpy()
        keep_steps = mask.numpy()
        n_batch, n_steps, n_tags = emit.shape
        identity = np.broadcast_to(np.arange(n_tags), (n_batch, n_tags))
        score = start_t.detach().numpy() + emit[:, 0]
        back = np.empty((max(n_steps - 1, 0), n_batch, n_tags), dtype=np.int64)
        for t in range(1, n_steps):
            candidates = score[:, :, None] + trans
            index = candidates.argmax(axis=1)
            best = candidates.max(axis=1)
            keep = keep_steps[:, t, None]
            score = np.where(keep, best + emit[:, t], score)
            # Padded steps pass the tag through unchanged, so one backward sweep serves all lengths.
            back[t - 1] = np.where(keep, index, identity)
        paths = np.empty((n_batch, n_steps), dtype=np.int64)
        paths[:, -1] = (score + end_t.detach().numpy()).argmax(axis=1)
        rows = np.arange(n_batch)
        for t in range(n_steps - 1, 0, -1):
            paths[:, t - 1] = back[t - 1][rows, paths[:, t]]
        lengths = keep_steps.sum(1).tolist()
        # Padded steps repeat the last real tag at the end, so the path starts at step 0.
        return [paths[b, : lengths[b]].tolist() for b in range(n_batch)]
