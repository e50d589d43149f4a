"""The project's own character BiLSTM-CRF with jieba lexicon features, trained on MSRA."""

from ner_inference.builtin.model import DEFAULT_WEIGHTS, BuiltinModel, load

__all__ = ["DEFAULT_WEIGHTS", "BuiltinModel", "load"]
