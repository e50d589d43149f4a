"""Built-in model speed on MSRA test sentences: sentences/s at batch 1 and batch 32, and load time.

    python bench/model_speed.py [--threads 2] [--seconds 10]

Writes bench/results/model_speed.json. Run it on an idle machine: anything else
on the two cores (a training job) halves the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ner_inference.builtin import BuiltinModel, load, msra

RESULTS = Path(__file__).parent / "results" / "model_speed.json"


def throughput(model: BuiltinModel, texts: list[str], batch: int, seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        first = done % len(texts)
        chunk = (texts * 2)[first : first + batch]
        model.predict(chunk)
        done += len(chunk)
    return done / (time.perf_counter() - started)


def cold_load_seconds(quantize: bool, runs: int = 3) -> float:
    """In a fresh interpreter each time: what a starting pod pays (imports excluded)."""
    code = f"from ner_inference.builtin import load;print(load(quantize={quantize}).load_seconds)"
    times = [
        float(
            subprocess.check_output([sys.executable, "-c", code], text=True)
            .strip()
            .splitlines()[-1]
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    texts = [text for text, _ in msra.read("test")]
    random.Random(0).shuffle(texts)
    rows = []
    for quantize in (False, True):
        model = load(threads=args.threads, quantize=quantize)
        model.predict(texts[:64])  # warm-up
        rows.append(
            {
                "variant": "int8" if quantize else "fp32",
                "batch1_sent_per_s": round(throughput(model, texts, 1, args.seconds), 1),
                "batch32_sent_per_s": round(throughput(model, texts, 32, args.seconds), 1),
                "batch128_sent_per_s": round(throughput(model, texts, 128, args.seconds), 1),
                "load_s": round(cold_load_seconds(quantize), 2),
            }
        )
    print(f"built-in model, {args.threads} threads, {os.cpu_count()} cores, MSRA test sentences")
    print(
        f"{'variant':<8} {'batch 1 sent/s':>15} {'batch 32 sent/s':>16}"
        f" {'batch 128 sent/s':>17} {'load s':>7}"
    )
    for r in rows:
        print(
            f"{r['variant']:<8} {r['batch1_sent_per_s']:>15} {r['batch32_sent_per_s']:>16}"
            f" {r['batch128_sent_per_s']:>17} {r['load_s']:>7}"
        )
    result = {**rows[0], "threads": args.threads, "int8": rows[1]}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
