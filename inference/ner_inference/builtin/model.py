"""Load the shipped weights and tag texts: the built-in backend."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
BATCH = 128


class BuiltinModel:
    name = "builtin"

    def __init__(
        self,
        tagger: Tagger,
        encoder: Encoder,
        version: str,
        load_seconds: float = 0.0,
        parallelism: int = 1,
    ) -> None:
        self.tagger = tagger.eval()
        self.encoder = encoder
        self.version = version
        self.load_seconds = load_seconds
        self.parallelism = parallelism
        self._pool = ThreadPoolExecutor(parallelism) if parallelism > 1 else None

    def predict(self, texts: Sequence[str]) -> list[list[Entity]]:
        return predict_windowed(texts, WINDOW, self._predict_windows)

    def _predict_windows(self, pieces: list[str]) -> list[list[Entity]]:
        results: list[list[Entity]] = [[] for _ in pieces]
        # Similar lengths together keep padding (wasted LSTM steps) small.
        order = sorted((i for i, p in enumerate(pieces) if p), key=lambda i: len(pieces[i]))
        size = min(BATCH, -(-len(order) // self.parallelism)) or 1
        chunks = [order[first : first + size] for first in range(0, len(order), size)]
        if self._pool is None or len(chunks) < 2:
            tagged = [self._tag(pieces, chunk) for chunk in chunks]
        else:
            tagged = list(self._pool.map(lambda chunk: self._tag(pieces, chunk), chunks))
        for chunk, entities in zip(chunks, tagged, strict=True):
            for i, found in zip(chunk, entities, strict=True):
                results[i] = found
        return results

    def _tag(self, pieces: list[str], chunk: list[int]) -> list[list[Entity]]:
        with torch.inference_mode():
            batch = collate(self.encoder.encode_many([pieces[i] for i in chunk]))
            paths = self.tagger.decode(batch)
        return [
            entities_from_tags(pieces[i], [TAGS[t] for t in path])
            for i, path in zip(chunk, paths, strict=True)
        ]


def save(path: Path, tagger: Tagger, encoder: Encoder, meta: dict[str, Any]) -> None:
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
            "chars": encoder.chars.items,
            "bigrams": encoder.bigrams.items,
            "words": encoder.words.items if encoder.words is not None else [],
            "state_dict": state,
            "meta": meta,
        },
        tmp,
    )
    tmp.replace(path)


def load(
    path: Path | str = DEFAULT_WEIGHTS, threads: int | None = None, quantize: bool = False
) -> BuiltinModel:
    """The tagger in eval mode, using ``threads`` CPU threads (default: torch's setting).

    Several threads tag different batches side by side, each with one intra-op thread:
    the LSTM's small matrix products scale poorly inside one op (2 intra-op threads gain
    ~5 %), while two batches in parallel nearly double throughput (torch releases the GIL).
    ``quantize`` swaps the LSTM and output layer for dynamic int8 versions: about 1.8x the
    throughput on CPU (F1 cost: see docs/model.md)."""
    parallelism = max(1, threads if threads is not None else torch.get_num_threads())
    torch.set_num_threads(1)
    started = time.perf_counter()
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    if blob.get("format") != FORMAT:
        raise ValueError(f"{path}: unsupported weights format {blob.get('format')!r}")
    tagger = Tagger(NetworkConfig(**blob["config"]))
    tagger.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    if quantize:
        # torch warns that its quantized-tensor constructors are deprecated; the int8 LSTM
        # still has no replacement on CPU, and the warning would break one-JSON-per-line logs.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", r".*quantize_per_tensor", UserWarning)
            warnings.filterwarnings("ignore", r"torch\.ao\.quantization is deprecated")
            tagger = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                tagger, {torch.nn.LSTM, torch.nn.Linear}, dtype=torch.qint8
            )
    words = Vocab(blob["words"]) if blob.get("words") else None
    encoder = Encoder(Vocab(blob["chars"]), Vocab(blob["bigrams"]), jieba_lexicon(), words)
    version = str(blob.get("meta", {}).get("version", "unknown")) + ("-int8" if quantize else "")
    return BuiltinModel(tagger, encoder, version, time.perf_counter() - started, parallelism)
