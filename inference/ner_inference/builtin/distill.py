"""Silver training data: unlabeled news tagged by an ensemble of trained taggers.

``python -m ner_inference.builtin.distill --teacher A.pt --teacher B.pt --out runs/silver.txt``

An ensemble of taggers beats each member (docs/model.md) but costs their summed time,
too slow to serve. Its tags on unlabeled text, added to the gold training sentences
(``train --silver``), teach one model of the shipped size what the ensemble knows.
``--soft FILE`` also writes the ensemble's distribution over tags (per-character tag
probabilities and expected transition counts, flattened by ``--temperature``) for
``train --soft-silver``: where the teachers hesitate, the student learns that they do.
The text (``--text``, ``ner_inference.builtin.unlabeled``, MSRA test kept out):
``people-daily``, People's Daily of January 1998, close to MSRA's news, or ``inews``,
2018-2019 internet news.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import Tensor

from ner_inference.builtin import unlabeled
from ner_inference.builtin.crf import CRF, SoftTags
from ner_inference.builtin.encoding import collate
from ner_inference.builtin.model import BuiltinModel, load
from ner_inference.builtin.tags import TAGS

BATCH = 64


class Ensemble:
    """The members' mean emission and transition scores, one CRF: its best path is the one
    the members agree on best (a product of experts; each member's partition function is
    the same for every path, so it drops out), its distribution their geometric mean.
    ``temperature`` above 1 divides the scores: the same best path, a flatter distribution
    (soft targets that tell a student more than the best path does)."""

    def __init__(self, members: Sequence[BuiltinModel], temperature: float = 1.0) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        if temperature <= 0:
            raise ValueError("the temperature must be positive")
        self.members = list(members)
        self.temperature = temperature
        self.crf = CRF()
        crfs = [member.tagger.crf for member in self.members]
        with torch.no_grad():
            for mine, theirs in (
                (self.crf.transitions, [c.transitions.detach() for c in crfs]),
                (self.crf.start, [c.start.detach() for c in crfs]),
                (self.crf.end, [c.end.detach() for c in crfs]),
            ):
                mine.copy_(torch.stack(theirs).mean(0) / temperature)

    def _emissions(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Mean emissions ``[B, T, N]`` and the mask; every text must be non-empty."""
        # no_grad, not inference_mode: soft_tags differentiates log Z with respect to them.
        with torch.no_grad():
            scores = []
            for member in self.members:
                batch = collate(member.encoder.encode_many(texts))
                scores.append(member.tagger.emissions(batch))
        return torch.stack(scores).mean(0) / self.temperature, batch.mask

    def tag(self, texts: Sequence[str]) -> list[list[str]]:
        """BMES tags per character; every text must be non-empty."""
        return self._best(*self._emissions(texts))

    def _best(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[str]]:
        return [[TAGS[t] for t in path] for path in self.crf.decode(emissions, mask)]

    def soft_tags(self, texts: Sequence[str]) -> tuple[list[list[str]], list[SoftTags]]:
        """What ``tag`` gives and, per text, tag probabilities ``[T, N]`` and expected
        transition counts ``[N, N]``, from one pass of the members."""
        emissions, mask = self._emissions(texts)
        targets = self.crf.posteriors(emissions, mask)
        soft = [
            SoftTags(targets.tags[i, : len(text)].half(), targets.transitions[i])
            for i, text in enumerate(texts)
        ]
        return self._best(emissions, mask), soft


def write_tagged(path: Path, texts: Iterable[str], tags: Iterable[list[str]]) -> None:
    """The MSRA format: one ``char TAG`` per line, a blank line between sentences."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_suffix(".tmp").open("w", encoding="utf-8") as out:
        for text, sequence in zip(texts, tags, strict=True):
            out.writelines(f"{char} {tag}\n" for char, tag in zip(text, sequence, strict=True))
            out.write("\n")
    path.with_suffix(".tmp").replace(path)


def write_soft(path: Path, texts: Sequence[str], soft: Sequence[SoftTags]) -> None:
    """The format ``train --soft-silver`` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = {
        "texts": list(texts),
        "tags": [item.tags for item in soft],
        "transitions": torch.stack([item.transitions for item in soft]),
    }
    torch.save(saved, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


def read_soft(path: Path) -> list[tuple[str, SoftTags]]:
    """What ``write_soft`` wrote: each text with its soft tags."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return [
        (text, SoftTags(tags, transitions))
        for text, tags, transitions in zip(
            saved["texts"], saved["tags"], saved["transitions"], strict=True
        )
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--teacher", type=Path, action="append", required=True, help="weights file")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--soft",
        type=Path,
        default=None,
        help="also write the ensemble's tag distributions here (for train --soft-silver)",
    )
    ap.add_argument("--text", choices=["people-daily", "inews"], default="people-daily")
    ap.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="with --soft: divides the ensemble's scores (above 1: flatter distributions)",
    )
    ap.add_argument("--sentences", type=int, default=50_000, help="random sample size")
    ap.add_argument("--min-chars", type=int, default=8)
    ap.add_argument("--max-chars", type=int, default=100)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    ensemble = Ensemble([load(path, threads=1) for path in args.teacher], args.temperature)
    torch.set_num_threads(args.threads)
    texts = unlabeled.sentences(args.text, args.min_chars, args.max_chars)
    texts = random.Random(args.seed).sample(texts, min(args.sentences, len(texts)))
    texts.sort(key=len)  # similar lengths per batch: little padding
    started = time.perf_counter()
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    if args.soft is None:
        tags = [t for batch in batches for t in ensemble.tag(batch)]
    else:
        tags, soft = [], []
        for batch in batches:
            best, distributions = ensemble.soft_tags(batch)
            tags += best
            soft += distributions
        write_soft(args.soft, texts, soft)
    write_tagged(args.out, texts, tags)
    entities = sum(t.startswith(("B-", "S-")) for sequence in tags for t in sequence)
    print(
        f"{len(texts)} sentences, {entities} entities tagged by {len(args.teacher)} teachers"
        f" in {time.perf_counter() - started:.0f}s -> {args.out}"
    )


if __name__ == "__main__":
    main()
