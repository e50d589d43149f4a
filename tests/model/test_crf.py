"""The CRF's forward algorithm and Viterbi against brute force over every tag sequence."""

import itertools

import torch
from ner_inference.builtin.crf import CRF, Targets
from ner_inference.builtin.tags import TAGS, allowed_end, allowed_start, allowed_transition


def _path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    trans, start, end = crf._scores()
    score = start[path[0]] + emissions[0, path[0]]
    for a, b, t in zip(path, path[1:], range(1, len(path)), strict=False):
        score = score + trans[a, b] + emissions[t, b]
    return float((score + end[path[-1]]).detach())


def _crf(seed: int = 0) -> CRF:
    torch.manual_seed(seed)
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


def _two_sequences(steps: int, second: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random emissions for a batch of two: ``steps`` long and ``second`` long, padded."""
    emissions = torch.randn(2, steps, len(TAGS))
    mask = torch.tensor([[True] * steps, [True] * second + [False] * (steps - second)])
    return emissions, mask


def test_padding_does_not_change_the_answer() -> None:
    crf = _crf()
    emissions, mask = _two_sequences(6, 3)
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


def test_cross_entropy_against_a_teacher_distribution_matches_brute_force() -> None:
    """A student CRF scored on a teacher CRF's soft targets: -sum_path q(path) log p(path)."""
    teacher, student = _crf(0), _crf(1)
    steps = 3
    emissions_q, emissions_p = torch.randn(2, 1, steps, len(TAGS))
    mask = torch.ones(1, steps, dtype=torch.bool)
    paths = list(itertools.product(range(len(TAGS)), repeat=steps))
    q = torch.tensor([_path_score(teacher, emissions_q[0], p) for p in paths]).softmax(0)
    log_p = torch.tensor([_path_score(student, emissions_p[0], p) for p in paths]).log_softmax(0)

    targets = teacher.posteriors(emissions_q, mask)
    expected_tags = torch.zeros(steps, len(TAGS))
    expected_pairs = torch.zeros(len(TAGS), len(TAGS))
    for prob, path in zip(q, paths, strict=True):
        for t, tag in enumerate(path):
            expected_tags[t, tag] += prob
        for a, b in itertools.pairwise(path):
            expected_pairs[a, b] += prob
    assert torch.allclose(targets.tags[0], expected_tags, atol=1e-4)
    assert torch.allclose(targets.transitions[0], expected_pairs, atol=1e-4)
    loss = student.cross_entropy(emissions_p, targets, mask)
    assert torch.allclose(loss, -(q * log_p).sum(), atol=1e-3)


def test_soft_targets_of_padded_sequences_are_those_of_the_sequences_alone() -> None:
    crf = _crf()
    emissions, mask = _two_sequences(6, 4)
    both = crf.posteriors(emissions, mask)
    alone = crf.posteriors(emissions[1:, :4], mask[1:, :4])
    assert torch.allclose(both.tags[1, :4], alone.tags[0], atol=1e-5)
    assert not both.tags[1, 4:].any()
    assert torch.allclose(both.transitions[1], alone.transitions[0], atol=1e-5)
    assert torch.allclose(both.transitions.sum((1, 2)), torch.tensor([5.0, 3.0]))


def test_one_path_targets_are_the_negative_log_likelihood() -> None:
    crf = _crf()
    emissions, mask = _two_sequences(5, 3)
    tags = torch.tensor(crf.decode(emissions, torch.ones(2, 5, dtype=torch.bool)))
    hard = Targets.from_tags(tags, mask)
    assert torch.equal(hard.tags.sum(2), mask.float())
    assert torch.equal(hard.transitions.sum((1, 2)), torch.tensor([4.0, 2.0]))
    alone = crf.neg_log_likelihood(emissions[1:, :3], tags[1:, :3], mask[1:, :3])
    both = crf.neg_log_likelihood(emissions, tags, mask)
    first = crf.neg_log_likelihood(emissions[:1], tags[:1], mask[:1])
    assert torch.allclose(both, (first + alone) / 2, atol=1e-4)
