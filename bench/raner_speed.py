"""What RaNER costs on this CPU, without its weights: a BERT-base-sized transformer-CRF with
random weights in the hub layout, loaded and run through the same backend code.

    python bench/raner_speed.py [--threads 2] [--sentences 200]

The real weights cannot be downloaded here. Compute does not depend on weight values, so
latency and throughput of the random model are those of any model of the same shape
(12 layers, hidden 768, 21,128-token vocabulary: BERT-base Chinese, which RaNER's
``chinese-base`` models build on). Accuracy is not measured. Writes bench/results/raner_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from ner_inference.builtin import msra
from ner_inference.raner import BATCH, SEQUENCE_LENGTH, load, write_random_model

RESULTS = Path(__file__).parent / "results" / "raner_speed.json"
LABELS = ["O"] + [f"{p}-{t}" for t in ("PER", "LOC", "ORG") for p in "BIES"]
VOCAB_SIZE = 21128  # bert-base-chinese


def vocabulary(texts: list[str]) -> list[str]:
    """Special tokens, every character of the corpus, then fillers up to BERT-base's size."""
    chars = sorted({ch for text in texts for ch in text if not ch.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]
    return vocab + [f"[unused{i}]" for i in range(VOCAB_SIZE - len(vocab))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sentences", type=int, default=100, help="MSRA test sentences per run")
    args = ap.parse_args()
    texts = [text for text, _ in msra.read("test")]
    random.Random(0).shuffle(texts)
    sample = texts[: args.sentences]

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = write_random_model(Path(tmp) / "raner-base-random", vocabulary(texts), LABELS)
        size_mb = (model_dir / "pytorch_model.bin").stat().st_size / 1e6
        backend = load(str(model_dir), threads=args.threads)
        backend.predict(sample[:BATCH])  # warm-up

        latencies = []
        for text in sample:
            started = time.perf_counter()
            backend.predict([text])
            latencies.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        for first in range(0, len(sample), BATCH):
            backend.predict(sample[first : first + BATCH])
        batch_rate = len(sample) / (time.perf_counter() - started)

    latencies.sort()
    result = {
        "model": "random-weights transformer-CRF, BERT-base shape (12x768, vocab 21128)",
        "weights_mb": round(size_mb, 1),
        "sequence_length": SEQUENCE_LENGTH,
        "threads": args.threads,
        "sentences": len(sample),
        "mean_chars": round(statistics.mean(len(t) for t in sample), 1),
        "load_seconds": round(backend.load_seconds, 2),
        "batch1_p50_ms": round(statistics.median(latencies), 1),
        "batch1_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        "batch1_sentences_per_s": round(1000 / statistics.mean(latencies), 1),
        f"batch{BATCH}_sentences_per_s": round(batch_rate, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(f"{'measure':<28} value")
    for key, value in result.items():
        print(f"{key:<28} {value}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
