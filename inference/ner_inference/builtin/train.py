"""Train the built-in tagger on MSRA: ``python -m ner_inference.builtin.train``.

Resumable: every epoch writes ``<run>/last.pt``; a new run with the same
``--run-dir`` continues from it. Whenever dev F1 improves, the shipped weights
file is rewritten, so a run cut short still leaves its best model behind.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ner_inference.builtin import msra
from ner_inference.builtin.encoding import Encoded, Encoder, collate
from ner_inference.builtin.lexicon import jieba_lexicon
from ner_inference.builtin.model import DEFAULT_WEIGHTS, BuiltinModel, save
from ner_inference.builtin.network import NetworkConfig, Tagger
from ner_inference.builtin.tags import TAG_INDEX, entities_from_tags
from ner_inference.builtin.vocab import Vocab, count_units
from ner_inference.evaluation import evaluate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run-dir", type=Path, default=Path("runs/builtin"))
    ap.add_argument("--export", type=Path, default=DEFAULT_WEIGHTS, help="shipped weights file")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=6, help="epochs without dev gain before stopping")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-decay", type=float, default=0.93, help="per-epoch multiplier")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--dev-fraction", type=float, default=0.05)
    ap.add_argument("--bigram-min-count", type=int, default=2)
    ap.add_argument("--max-sentences", type=int, default=0, help="train on the first N (smoke tests)")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap.parse_args(argv)


def split_dev(
    sentences: list[msra.Sentence], fraction: float, seed: int
) -> tuple[list[msra.Sentence], list[msra.Sentence]]:
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    n_dev = max(1, int(len(sentences) * fraction))
    dev = {*order[:n_dev]}
    return (
        [s for i, s in enumerate(sentences) if i not in dev],
        [s for i, s in enumerate(sentences) if i in dev],
    )


def batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Length-bucketed batches in random order: little padding, still shuffled."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def dev_f1(model: BuiltinModel, dev: list[msra.Sentence]) -> float:
    texts = [text for text, _ in dev]
    gold = [entities_from_tags(text, tags) for text, tags in dev]
    micro, _ = evaluate(gold, model.predict(texts))
    return micro.f1


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    sentences = msra.read("train")
    if args.max_sentences:
        sentences = sentences[: args.max_sentences]
    train, dev = split_dev(sentences, args.dev_fraction, args.seed)
    char_counts, bigram_counts = count_units(text for text, _ in train)
    chars = Vocab.build(char_counts, 1)
    bigram_vocab = Vocab.build(bigram_counts, args.bigram_min_count)
    encoder = Encoder(chars, bigram_vocab, jieba_lexicon())
    print(f"train {len(train)}  dev {len(dev)}  chars {len(chars)}  bigrams {len(bigram_vocab)}")

    started = time.perf_counter()
    encoded: list[Encoded] = [encoder.encode(text) for text, _ in train]
    gold_tags = [torch.tensor([TAG_INDEX[t] for t in tags]) for _, tags in train]
    print(f"encoded in {time.perf_counter() - started:.1f}s")

    tagger = Tagger(NetworkConfig(len(chars), len(bigram_vocab), hidden=args.hidden))
    optimizer = torch.optim.Adam(tagger.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.lr_decay)
    history: list[dict[str, float]] = []
    best, first_epoch = -1.0, 0

    args.run_dir.mkdir(parents=True, exist_ok=True)
    last = args.run_dir / "last.pt"
    if last.exists():
        state = torch.load(last, map_location="cpu", weights_only=False)
        tagger.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        best, first_epoch, history = state["best"], state["epoch"] + 1, state["history"]
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed after epoch {state['epoch'] + 1}, best dev F1 {best:.2f}")

    since_best = sum(1 for _ in _tail_without_gain(history))
    lengths = [len(e.chars) for e in encoded]
    for epoch in range(first_epoch, args.epochs):
        if since_best >= args.patience:
            print(f"no dev gain for {since_best} epochs: stopping")
            break
        tagger.train()
        epoch_started = time.perf_counter()
        plan = batches(lengths, args.batch_size, rng)
        total = 0.0
        bar = tqdm(plan, desc=f"epoch {epoch + 1}/{args.epochs}", disable=args.quiet, ncols=100)
        for step, rows in enumerate(bar, 1):
            batch = collate([encoded[i] for i in rows])
            tags = torch.zeros(batch.chars.shape, dtype=torch.int64)
            for r, i in enumerate(rows):
                tags[r, : len(gold_tags[i])] = gold_tags[i]
            loss = tagger.loss(batch, tags)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tagger.parameters(), 5.0)
            optimizer.step()
            total += loss.item()
            if step % 20 == 0:
                bar.set_postfix(loss=f"{total / step:.3f}")
        schedule.step()

        model = BuiltinModel(tagger, encoder, version=f"msra-e{epoch + 1}")
        f1 = dev_f1(model, dev)
        tagger.train()
        seconds = time.perf_counter() - epoch_started
        history.append({"epoch": epoch + 1, "loss": total / len(plan), "dev_f1": f1, "seconds": seconds})
        improved = f1 > best
        if improved:
            best = f1
            meta = {
                "version": f"msra-e{epoch + 1}",
                "dev_f1": round(f1, 2),
                "epoch": epoch + 1,
                "seed": args.seed,
                "args": {k: str(v) for k, v in vars(args).items()},
                "history": history,
            }
            save(args.export, tagger, chars, bigram_vocab, meta)
        since_best = 0 if improved else since_best + 1
        print(
            f"epoch {epoch + 1}: loss {total / len(plan):.4f}  dev F1 {f1:.2f}"
            f"  best {best:.2f}{'  (exported)' if improved else ''}  {seconds:.0f}s",
            flush=True,
        )
        torch.save(
            {
                "model": tagger.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "epoch": epoch,
                "best": best,
                "history": history,
                "rng": rng.getstate(),
                "torch_rng": torch.get_rng_state(),
            },
            last.with_suffix(".tmp"),
        )
        last.with_suffix(".tmp").replace(last)
        (args.run_dir / "history.json").write_text(json.dumps(history, indent=1))
    print(f"best dev F1 {best:.2f}; weights in {args.export}")


def _tail_without_gain(history: list[dict[str, float]]) -> list[dict[str, float]]:
    best, tail = -1.0, []
    for h in history:
        if h["dev_f1"] > best:
            best, tail = h["dev_f1"], []
        else:
            tail.append(h)
    return tail


if __name__ == "__main__":
    main()
