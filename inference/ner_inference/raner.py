"""Alibaba DAMO's RaNER through modelscope's NER pipeline: the ``raner`` backend.

``load("damo/nlp_raner_named-entity-recognition_chinese-base-news")`` fetches the model from
the ModelScope hub; a local directory with the hub's layout (``configuration.json``,
``config.json``, ``pytorch_model.bin``, ``vocab.txt``) loads without network access.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
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
        # The pipeline's own tokenizer decides which windows hold no token at all: modelscope's
        # CRF head fails on those (whitespace, control and format characters only).
        self._tokenizer = pipe.preprocessor.nlp_tokenizer.tokenizer
        self.version = version
        self.load_seconds = load_seconds

    def predict(self, texts: Sequence[str]) -> list[list[Entity]]:
        return predict_windowed(texts, WINDOW, self._predict_windows)

    def _predict_windows(self, pieces: list[str]) -> list[list[Entity]]:
        results: list[list[Entity]] = [[] for _ in pieces]
        order = [i for i, piece in enumerate(pieces) if self._has_tokens(piece)]
        if not order:
            return results
        with torch.inference_mode():
            outputs = self._pipe([pieces[i] for i in order], batch_size=BATCH)
        for i, output in zip(order, outputs, strict=True):
            results[i] = entities_of(pieces[i], output["output"])
        return results

    def _has_tokens(self, piece: str) -> bool:
        return bool(self._tokenizer(piece, add_special_tokens=False)["input_ids"])


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


def _version_of(model: str) -> str:
    """The model's name: the hub id's last part or the directory's name."""
    path = Path(model)
    return path.resolve().name if path.is_dir() else model.rsplit("/", 1)[-1]
