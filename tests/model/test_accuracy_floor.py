"""The shipped weights load and reach a minimum F1 on a fixed slice of MSRA test.

`make bench-accuracy` reports the full test split; this only guards against shipping
broken or mismatched weights.
"""

from __future__ import annotations

from ner_inference.builtin import BuiltinModel, msra
from ner_inference.builtin.tags import entities_from_tags
from ner_inference.evaluation import evaluate

SLICE = 600
FLOOR = 88.0


def test_shipped_weights_reach_the_floor(model: BuiltinModel) -> None:
    sentences = msra.read("test")[:SLICE]
    gold = [entities_from_tags(text, tags) for text, tags in sentences]
    micro, per_type = evaluate(gold, model.predict([text for text, _ in sentences]))
    assert micro.f1 >= FLOOR, (micro, per_type)
    assert all(score.f1 > 75 for score in per_type.values()), per_type
