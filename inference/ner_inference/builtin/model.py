"""Load the shipped weights and tag texts: the built-in backend."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ner_inference.builtin.encoding import Encoder, collate
from ner_inference.builtin.lexicon import jieba_lexicon
from ner_inference.builtin.network import NetworkConfig, Tagger
from ner_inference.builtin.tags import TAGS, entities_from_tags
from ner_inference.builtin.vocab import Vocab
from ner_inference.chunking import predict_windowed
from ner_inference.entities import Entity

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "model.pt"
FORMAT = 1
# Training sentences are at most 100 characters; longer windows lose little but cost padding.
WINDOW = 150
BATCH = 64


class BuiltinModel:
    name = "builtin"

    def __init__(
        self, tagger: Tagger, encoder: Encoder, version: str, load_seconds: float = 0.0
    ) -> None:
        self.tagger = tagger.eval()
        self.encoder = encoder
        self.version = version
        self.load_seconds = load_seconds

    def predict(self, texts: Sequence[str]) -> list[list[Entity]]:
        return predict_windowed(texts, WINDOW, self._predict_windows)

    def _predict_windows(self, pieces: list[str]) -> list[list[Entity]]:
        results: list[list[Entity]] = [[] for _ in pieces]
        # Similar lengths together keep padding (wasted LSTM steps) small.
        order = sorted((i for i, p in enumerate(pieces) if p), key=lambda i: len(pieces[i]))
        with torch.inference_mode():
            for first in range(0, len(order), BATCH):
                chunk = order[first : first + BATCH]
                batch = collate([self.encoder.encode(pieces[i]) for i in chunk])
                for i, path in zip(chunk, self.tagger.decode(batch), strict=True):
                    results[i] = entities_from_tags(pieces[i], [TAGS[t] for t in path])
        return results


def save(path: Path, tagger: Tagger, chars: Vocab, bigrams: Vocab, meta: dict[str, Any]) -> None:
    """Half-precision embeddings keep the file small; everything else stays float32."""
    state = {
        k: (v.half() if "embedding" in k else v).detach().clone()
        for k, v in tagger.state_dict().items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "format": FORMAT,
            "config": tagger.config.as_dict(),
            "chars": chars.items,
            "bigrams": bigrams.items,
            "state_dict": state,
            "meta": meta,
        },
        tmp,
    )
    tmp.replace(path)


def load(
    path: Path | str = DEFAULT_WEIGHTS, threads: int | None = None, quantize: bool = False
) -> BuiltinModel:
    """The tagger in eval mode. ``quantize`` swaps the LSTM and output layer for dynamic
    int8 versions: about twice the throughput on CPU (F1 cost: see docs/model.md)."""
    if threads is not None:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    if blob.get("format") != FORMAT:
        raise ValueError(f"{path}: unsupported weights format {blob.get('format')!r}")
    tagger = Tagger(NetworkConfig(**blob["config"]))
    tagger.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    if quantize:
        tagger = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            tagger, {torch.nn.LSTM, torch.nn.Linear}, dtype=torch.qint8
        )
    encoder = Encoder(Vocab(blob["chars"]), Vocab(blob["bigrams"]), jieba_lexicon())
    version = str(blob.get("meta", {}).get("version", "unknown")) + ("-int8" if quantize else "")
    return BuiltinModel(tagger, encoder, version, time.perf_counter() - started)
