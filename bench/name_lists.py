"""Lists of names written without separators: F1 on held-out MSRA sentences, both ways.

    python bench/name_lists.py [--weights PATH ...]

The sentences: the training run's dev split (5 %, seed 20261125, never trained on by a
model with that split) that hold a list of names (霍英东、马万祺、朱光亚); each is scored
as written and with the list's separators removed (霍英东马万祺朱光亚), as MSRA test and
committee lists in news often write them. Writes bench/results/name_lists.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ner_inference.builtin import DEFAULT_WEIGHTS, load, msra
from ner_inference.builtin.augment import join_lists
from ner_inference.builtin.tags import entities_from_tags
from ner_inference.builtin.train import gold_and_dev, parse_args
from ner_inference.evaluation import evaluate

RESULTS = Path(__file__).parent / "results" / "name_lists.json"


def scores(weights: Path, sets: dict[str, list[msra.Sentence]]) -> dict[str, object]:
    model = load(weights)
    row: dict[str, object] = {"model": f"{model.name}@{model.version}"}
    for name, sentences in sets.items():
        gold = [entities_from_tags(text, tags) for text, tags in sentences]
        micro, per_type = evaluate(gold, model.predict([text for text, _ in sentences]))
        row[name] = {"f1": round(micro.f1, 2), "per_f1": round(per_type["PER"].f1, 2)}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--weights", type=Path, nargs="+", default=[DEFAULT_WEIGHTS])
    args = ap.parse_args()
    _, dev = gold_and_dev(parse_args([]))  # the dev split of a training run with the defaults
    pairs = [(s, joined) for s in dev if (joined := join_lists(s)) is not None]
    sets = {"separated": [s for s, _ in pairs], "joined": [j for _, j in pairs]}
    rows = [scores(weights, sets) for weights in args.weights]
    print(f"{len(pairs)} held-out MSRA sentences with a list of names")
    print(f"{'model':<28} {'separated F1':>12} {'(PER)':>7} {'joined F1':>10} {'(PER)':>7}")
    for row in rows:
        a, b = row["separated"], row["joined"]
        assert isinstance(a, dict) and isinstance(b, dict)
        print(
            f"{row['model']:<28} {a['f1']:>12.2f} {a['per_f1']:>7.2f}"
            f" {b['f1']:>10.2f} {b['per_f1']:>7.2f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {"sentences": len(pairs), "models": rows}
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
