"""F1 of the shipped built-in weights on the full MSRA test split.

Entity level: a prediction counts when its span and type are both exact.

    python bench/accuracy.py [--weights PATH] [--quantize]

Prints P/R/F1 per type and micro overall; writes bench/results/accuracy.json
(fp32 and, for comparison, dynamic int8).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ner_inference.builtin import DEFAULT_WEIGHTS, load, msra
from ner_inference.builtin.tags import entities_from_tags
from ner_inference.evaluation import evaluate

RESULTS = Path(__file__).parent / "results" / "accuracy.json"


def measure(weights: Path, quantize: bool) -> dict[str, object]:
    model = load(weights, quantize=quantize)
    sentences = msra.read("test")
    gold = [entities_from_tags(text, tags) for text, tags in sentences]
    started = time.perf_counter()
    predicted = model.predict([text for text, _ in sentences])
    seconds = time.perf_counter() - started
    micro, per_type = evaluate(gold, predicted)
    return {
        "model": f"{model.name}@{model.version}",
        "sentences": len(sentences),
        "f1": round(micro.f1, 2),
        "precision": round(micro.precision, 2),
        "recall": round(micro.recall, 2),
        "per_type": {t: s.as_dict() for t, s in per_type.items()},
        "seconds": round(seconds, 1),
    }


def table(rows: dict[str, dict[str, object]]) -> str:
    lines = [f"{'variant':<8} {'type':<6} {'P':>6} {'R':>6} {'F1':>6} {'support':>8}"]
    for variant, row in rows.items():
        per_type: dict[str, dict[str, float]] = row["per_type"]  # type: ignore[assignment]
        for kind, s in per_type.items():
            lines.append(
                f"{variant:<8} {kind:<6} {s['precision']:>6.2f} {s['recall']:>6.2f}"
                f" {s['f1']:>6.2f} {s['support']:>8}"
            )
        lines.append(
            f"{variant:<8} {'micro':<6} {row['precision']:>6.2f} {row['recall']:>6.2f}"
            f" {row['f1']:>6.2f} {sum(int(s['support']) for s in per_type.values()):>8}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    args = ap.parse_args()
    rows = {"fp32": measure(args.weights, False), "int8": measure(args.weights, True)}
    print(f"MSRA test, {rows['fp32']['sentences']} sentences, {rows['fp32']['model']}")
    print(table(rows))
    result = {**rows["fp32"], "int8": rows["int8"]}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
