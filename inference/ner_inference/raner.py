"""Alibaba DAMO's RaNER through modelscope's NER pipeline: the ``raner`` backend.

``load("damo/nlp_raner_named-entity-recognition_chinese-base-news")`` fetches the model from
the ModelScope hub; a local directory with the hub's layout (``configuration.json``,
``config.json``, ``pytorch_model.bin``, ``vocab.txt``) loads without network access.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ner_inference.chunking import predict_windowed
from ner_inference.entities import Entity, EntityType

log = logging.getLogger(__name__)

# The pipeline pads every text of a batch to ``sequence_length`` tokens; 128 keeps that padding
# cheap for news sentences. A BERT token covers at least one character, so windows of 126
# characters plus [CLS] and [SEP] are never truncated.
SEQUENCE_LENGTH = 128
WINDOW = SEQUENCE_LENGTH - 2
BATCH = 32

# RaNER's label sets differ between its models; only these three mean what our schema means.
TYPES: Mapping[str, EntityType] = {
    "PER": "PER",
    "PERSON": "PER",
    "LOC": "LOC",
    "LOCATION": "LOC",
    "ORG": "ORG",
    "ORGANIZATION": "ORG",
}


class RanerBackend:
    name = "raner"

    def __init__(self, pipe: Any, version: str, load_seconds: float = 0.0) -> None:
        self._pipe = pipe
        self._tokenizer = pipe.preprocessor.nlp_tokenizer.tokenizer
        # The preprocessor pads every text to tokenize_kwargs["max_length"]; setting it per
        # batch of similar lengths saves most of the padding, the bulk of the compute for
        # news sentences (about 40 characters against 128 positions).
        self._tokenize_kwargs: dict[str, Any] = pipe.preprocessor.nlp_tokenizer.tokenize_kwargs
        self.version = version
        self.load_seconds = load_seconds

    def predict(self, texts: Sequence[str]) -> list[list[Entity]]:
        return predict_windowed(texts, WINDOW, self._predict_windows)

    def _predict_windows(self, pieces: list[str]) -> list[list[Entity]]:
        results: list[list[Entity]] = [[] for _ in pieces]
        ids = self._tokenizer(pieces, add_special_tokens=False)["input_ids"]
        # Windows without a single token are skipped: modelscope's CRF head fails on them
        # (whitespace, control and format characters only).
        order = sorted((i for i in range(len(pieces)) if ids[i]), key=lambda i: len(ids[i]))
        for first in range(0, len(order), BATCH):
            batch = order[first : first + BATCH]
            longest = len(ids[batch[-1]])
            self._tokenize_kwargs["max_length"] = min(SEQUENCE_LENGTH, longest + 2)
            with torch.inference_mode():
                outputs = self._pipe([pieces[i] for i in batch], batch_size=len(batch))
            for i, output in zip(batch, outputs, strict=True):
                results[i] = entities_of(pieces[i], output["output"])
        return results


def entities_of(text: str, chunks: Sequence[Mapping[str, Any]]) -> list[Entity]:
    """Map the pipeline's chunks to entities of ``text``: known types only, offsets checked."""
    entities: list[Entity] = []
    for chunk in chunks:
        kind = TYPES.get(str(chunk["type"]).upper())
        start, end = int(chunk["start"]), int(chunk["end"])
        if kind is None or not 0 <= start < end <= len(text):
            continue
        span = text[start:end]
        if span != chunk.get("span", span):
            # The offsets are what the API promises; a chunk whose text disagrees is dropped.
            log.warning("raner chunk %r does not match text[%d:%d]", chunk, start, end)
            continue
        entities.append(Entity(kind, start, end, span))
    return entities


def load(model: str, *, threads: int = 2) -> RanerBackend:
    """Build the pipeline from a local model directory or a ModelScope hub id (downloads)."""
    started = time.perf_counter()
    torch.set_num_threads(threads)
    # Imported here: modelscope (and transformers) take seconds to import and are an extra.
    from modelscope.pipelines import pipeline
    from modelscope.utils.constant import Tasks

    pipe = pipeline(
        Tasks.named_entity_recognition,
        model=model,
        device="cpu",
        sequence_length=SEQUENCE_LENGTH,
        # The slow tokenizer's offset code raises on [UNK] tokens (emoji, rare characters).
        use_fast=True,
    )
    return RanerBackend(pipe, _version_of(model), time.perf_counter() - started)


def write_random_model(
    directory: Path,
    vocab: Sequence[str],
    labels: Sequence[str],
    *,
    hidden_size: int = 768,
    layers: int = 12,
    heads: int = 12,
    intermediate_size: int = 3072,
    adjust: Callable[[Any], None] | None = None,
) -> Path:
    """Write a randomly initialised transformer-CRF in the hub model's directory layout.

    For tests and cost benchmarks where the real weights cannot be downloaded: the files,
    the loading code and the compute are the real ones, the predictions are not. The
    defaults are BERT-base's sizes. ``adjust`` may change the model before it is saved.
    """
    from modelscope.models.nlp import ModelForTokenClassificationWithCRF

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    label2id = {label: index for index, label in enumerate(labels)}
    backbone = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": len(vocab),
        "hidden_size": hidden_size,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "label2id": label2id,
        "id2label": {str(index): label for label, index in label2id.items()},
    }
    (directory / "config.json").write_text(json.dumps(backbone, indent=2))
    configuration = {
        "framework": "pytorch",
        "task": "named-entity-recognition",
        "pipeline": {"type": "named-entity-recognition"},
        "model": {"type": "transformer-crf"},
        "preprocessor": {"type": "sequence-labeling-tokenizer"},
    }
    (directory / "configuration.json").write_text(json.dumps(configuration, indent=2))
    model = ModelForTokenClassificationWithCRF(model_dir=str(directory))
    if adjust is not None:
        with torch.no_grad():
            adjust(model)
    torch.save(model.state_dict(), directory / "pytorch_model.bin")
    return directory


def _version_of(model: str) -> str:
    """The model's name: the hub id's last part or the directory's name."""
    path = Path(model)
    return path.resolve().name if path.is_dir() else model.rsplit("/", 1)[-1]
