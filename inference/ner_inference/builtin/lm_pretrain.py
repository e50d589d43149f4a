"""Pre-train the tagger's LSTM directions as character language models (see ``charlm``).

``python -m ner_inference.builtin.lm_pretrain --direction forward --out runs/lm/forward.pt
--embeddings runs/builtin/embeddings.npz`` (and ``--direction backward``, one process per
core), then ``train --lm runs/lm`` with the same vocabulary options. Resumable: every
``--save-every`` steps ``<out>.part`` holds the state a new run continues from.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ner_inference.builtin import pretrain, train
from ner_inference.builtin.charlm import CharLM, Direction, Sequence, sequence, vocab_digest
from ner_inference.builtin.encoding import Encoder

# A few news lines run to thousands of characters without sentence punctuation; one batch of
# them stalls training for minutes (the softmax over every position), so they are cut.
MAX_LENGTH = 200


def sequences(encoder: Encoder, direction: Direction, limit: int) -> list[Sequence]:
    lines = pretrain.corpus()
    if limit:
        lines = lines[:limit]
    pieces = [line[i : i + MAX_LENGTH] for line in lines for i in range(0, len(line), MAX_LENGTH)]
    return [sequence(encoder, piece, direction) for piece in pieces if len(piece) > 1]


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, argparse.Namespace]:
    """This module's options, then train's (they fix the vocabulary and the tagger)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--direction", choices=["forward", "backward"], required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=float, default=1.0, help="passes over the text")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3, help="decays linearly to a tenth")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--max-lines", type=int, default=0, help="first N sentences (smoke tests)")
    ap.add_argument("--save-every", type=int, default=500, help="steps between checkpoints")
    ap.add_argument("--quiet", action="store_true")
    own, rest = ap.parse_known_args(argv)
    return own, train.parse_args(rest)


def epoch_plan(data: list[Sequence], size: int, epochs: float, seed: int) -> list[list[int]]:
    """Length-bucketed batches for ``epochs`` passes (a fraction cuts the last pass)."""
    rng = random.Random(seed)
    lengths = [len(s.chars) for s in data]
    passes = [train.batches(lengths, size, rng) for _ in range(math.ceil(epochs))]
    plan = [batch for one in passes for batch in one]
    return plan[: round(len(plan) * epochs / max(math.ceil(epochs), 1))]


def language_model(
    args: argparse.Namespace, train_args: argparse.Namespace
) -> tuple[CharLM, Encoder]:
    """The tagger ``train`` would build with these options, as one direction's model;
    the embeddings are frozen (see ``charlm``)."""
    gold, _ = train.gold_and_dev(train_args)
    encoder, vectors = train.new_encoder(train_args, gold)
    tagger = train.starting_tagger(train_args, train.Data(encoder, vectors, [], [], []))
    lm = CharLM(tagger, args.direction, args.dropout)
    lm.char_embedding.weight.requires_grad_(False)
    lm.bigram_embedding.weight.requires_grad_(False)
    return lm, encoder


def save_direction(lm: CharLM, encoder: Encoder, out: Path) -> None:
    """What ``charlm.initialise`` reads: the vocabulary's digest, embeddings, LSTM."""
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "direction": lm.direction,
        "vocab": vocab_digest(encoder),
        "char_embedding": lm.char_embedding.weight.detach().clone(),
        "bigram_embedding": lm.bigram_embedding.weight.detach().clone(),
        "lstm": {k: v.detach().clone() for k, v in lm.lstm.state_dict().items()},
    }
    torch.save(state, out)


def main(argv: list[str] | None = None) -> None:
    args, train_args = parse_args(argv)
    torch.set_num_threads(train_args.threads)
    torch.manual_seed(train_args.seed)
    lm, encoder = language_model(args, train_args)
    data = sequences(encoder, args.direction, args.max_lines)
    plan = epoch_plan(data, args.batch_size, args.epochs, train_args.seed)
    params = [p for p in lm.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 1.0 - 0.9 * min(step / max(len(plan), 1), 1.0)
    )
    checkpoint = args.out.with_suffix(".part")
    first = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        lm.load_state_dict(state["lm"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        first = state["step"]
        print(f"resumed at step {first}")
    n_chars = sum(len(s.chars) for s in data)
    print(f"{args.direction}: {len(data)} sentences, {n_chars} characters, {len(plan)} steps")
    started = time.perf_counter()
    lm.train()
    total, seen = 0.0, 0
    bar = tqdm(range(first, len(plan)), disable=args.quiet, ncols=100, desc=args.direction)
    for step in bar:
        loss = lm.loss([data[i] for i in plan[step]])
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        schedule.step()
        total, seen = total + loss.item(), seen + 1
        if (step + 1) % args.save_every == 0 or step + 1 == len(plan):
            seconds = time.perf_counter() - started
            print(f"step {step + 1}: loss {total / seen:.4f}  {seconds:.0f}s", flush=True)
            total, seen = 0.0, 0
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            part = {
                "lm": lm.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "step": step + 1,
            }
            torch.save(part, checkpoint)
    save_direction(lm, encoder, args.out)
    print(f"wrote {args.out} after {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
