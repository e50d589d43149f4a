"""The CRF's forward algorithm and Viterbi against brute force over every tag sequence."""

import itertools

import torch
from ner_inference.builtin.crf import CRF
from ner_inference.builtin.tags import TAGS, allowed_end, allowed_start, allowed_transition


def _path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    trans, start, end = crf._scores()
    score = start[path[0]] + emissions[0, path[0]]
    for a, b, t in zip(path, path[1:], range(1, len(path)), strict=False):
        score = score + trans[a, b] + emissions[t, b]
    return float((score + end[path[-1]]).detach())


def _crf() -> CRF:
    torch.manual_seed(0)
    crf = CRF()
    with torch.no_grad():
        crf.transitions.normal_()
        crf.start.normal_()
        crf.end.normal_()
    return crf


def test_log_partition_and_viterbi_match_brute_force() -> None:
    crf = _crf()
    steps = 3
    emissions = torch.randn(1, steps, len(TAGS))
    paths = list(itertools.product(range(len(TAGS)), repeat=steps))
    scores = torch.tensor([_path_score(crf, emissions[0], p) for p in paths])
    best = paths[int(scores.argmax())]
    gold = torch.tensor([best])
    mask = torch.ones(1, steps, dtype=torch.bool)

    nll = crf.neg_log_likelihood(emissions, gold, mask)
    expected = torch.logsumexp(scores, 0) - scores.max()
    assert torch.allclose(nll, expected, atol=1e-3)
    assert tuple(crf.decode(emissions, mask)[0]) == best


def test_padding_does_not_change_the_answer() -> None:
    crf = _crf()
    emissions = torch.randn(2, 6, len(TAGS))
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    both = crf.decode(emissions, mask)
    alone = crf.decode(emissions[1:, :3], mask[1:, :3])
    assert both[1] == alone[0]
    assert len(both[0]) == 6


def test_decoded_sequences_are_always_well_formed() -> None:
    crf = _crf()
    torch.manual_seed(1)
    emissions = torch.randn(64, 12, len(TAGS)) * 5
    for path in crf.decode(emissions, torch.ones(64, 12, dtype=torch.bool)):
        tags = [TAGS[i] for i in path]
        assert allowed_start(tags[0])
        assert allowed_end(tags[-1])
        assert all(allowed_transition(a, b) for a, b in itertools.pairwise(tags))
