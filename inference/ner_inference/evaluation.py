"""Entity-level precision, recall and F1 (exact span and type), per type and micro overall."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ner_inference.entities import ENTITY_TYPES, Entity, EntityType


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    support: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 2),
            "recall": round(self.recall, 2),
            "f1": round(self.f1, 2),
            "support": self.support,
        }


def _score(tp: int, n_pred: int, n_gold: int) -> Score:
    p = 100.0 * tp / n_pred if n_pred else 0.0
    r = 100.0 * tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return Score(p, r, f, n_gold)


def evaluate(
    gold: Iterable[list[Entity]], predicted: Iterable[list[Entity]]
) -> tuple[Score, dict[EntityType, Score]]:
    """``(micro, per_type)`` over aligned sentences."""
    tp: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    for g, p in zip(gold, predicted, strict=True):
        gold_keys = {(e.type, e.start, e.end) for e in g}
        pred_keys = {(e.type, e.start, e.end) for e in p}
        for kind, *_ in gold_keys:
            n_gold[kind] += 1
        for key in pred_keys:
            n_pred[key[0]] += 1
            if key in gold_keys:
                tp[key[0]] += 1
    per_type = {t: _score(tp[t], n_pred[t], n_gold[t]) for t in ENTITY_TYPES}
    micro = _score(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return micro, per_type
