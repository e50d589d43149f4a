"""A linear-chain CRF whose transitions are constrained to well-formed BMES sequences.

Illegal transitions get a large negative score that is added, not learned, so
Viterbi can never return a malformed tag sequence (e.g. ``O`` followed by ``E-PER``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ner_inference.builtin.tags import TAGS, allowed_end, allowed_start, allowed_transition

_FORBIDDEN = -10_000.0


def _mask(flags: list[bool]) -> Tensor:
    return torch.tensor([0.0 if ok else _FORBIDDEN for ok in flags])


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
        trans, start, end = self._scores()
        batch = torch.arange(emissions.size(0))
        lengths = mask.sum(1)
        maskf = mask.float()

        gold = start[tags[:, 0]] + emissions[batch, 0, tags[:, 0]]
        step_emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)[:, 1:]
        step_trans = trans[tags[:, :-1], tags[:, 1:]]
        gold = gold + ((step_emit + step_trans) * maskf[:, 1:]).sum(1)
        gold = gold + end[tags[batch, lengths - 1]]

        alpha = start + emissions[:, 0]
        for t in range(1, emissions.size(1)):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        log_z = torch.logsumexp(alpha + end, dim=1)
        return (log_z - gold).mean()

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
