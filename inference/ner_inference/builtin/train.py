"""Train the built-in tagger on MSRA: ``python -m ner_inference.builtin.train``.

Resumable: every epoch writes ``<run>/last.pt``; a new run with the same
``--run-dir`` continues from it. Whenever dev F1 improves, the ``--export`` weights
file is rewritten, so a run cut short still leaves its best model behind. With
``--dev-fraction 0`` (all of MSRA train, settings chosen by an earlier held-out run)
every epoch is exported.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from ner_inference.builtin import charlm, msra
from ner_inference.builtin.augment import join_lists
from ner_inference.builtin.crf import SoftTags, Targets
from ner_inference.builtin.distill import read_soft
from ner_inference.builtin.encoding import Encoded, Encoder, collate
from ner_inference.builtin.lexicon import jieba_lexicon
from ner_inference.builtin.model import DEFAULT_WEIGHTS, BuiltinModel, load, save
from ner_inference.builtin.network import NetworkConfig, Tagger
from ner_inference.builtin.pretrained import Pretrained
from ner_inference.builtin.tags import TAG_INDEX, entities_from_tags
from ner_inference.builtin.vocab import Vocab, count_units
from ner_inference.evaluation import evaluate

SEED = 20261125


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run-dir", type=Path, default=Path("runs/builtin"))
    ap.add_argument("--export", type=Path, default=DEFAULT_WEIGHTS, help="shipped weights file")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument(
        "--patience", type=int, default=6, help="epochs without dev gain before stopping"
    )
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-decay", type=float, default=0.93, help="per-epoch multiplier")
    ap.add_argument("--hidden", type=int, default=128, help="LSTM units per direction")
    ap.add_argument(
        "--dev-fraction",
        type=float,
        default=0.05,
        help="held out for model selection; 0: train on all, export every epoch (final runs)",
    )
    ap.add_argument("--bigram-min-count", type=int, default=2)
    ap.add_argument(
        "--embeddings",
        type=Path,
        default=None,
        help="pre-trained vectors from ner_inference.builtin.pretrain (none: random init)",
    )
    ap.add_argument(
        "--max-pretrained-bigrams",
        type=int,
        default=150_000,
        help="most frequent pre-trained bigrams added to the vocabulary beyond MSRA's",
    )
    ap.add_argument(
        "--max-words",
        type=int,
        default=0,
        help="most frequent pre-trained words given SoftLexicon word-set embeddings"
        " (default 0: none; see docs/model.md for what they did)",
    )
    ap.add_argument(
        "--tune-words",
        action="store_true",
        help="fine-tune the word embeddings too (default: frozen at their pre-trained values)",
    )
    ap.add_argument(
        "--max-sentences", type=int, default=0, help="train on the first N (smoke tests)"
    )
    ap.add_argument(
        "--silver",
        type=Path,
        action="append",
        default=[],
        help="extra training sentences in the MSRA format, tagged by a teacher"
        " (ner_inference.builtin.distill); never used as dev",
    )
    ap.add_argument(
        "--soft-silver",
        type=Path,
        action="append",
        default=[],
        help="extra training sentences with a teacher ensemble's tag distribution, not only its"
        " best path (ner_inference.builtin.distill --soft); never used as dev",
    )
    ap.add_argument(
        "--silver-vocab",
        action="store_true",
        help="count the silver text's characters and bigrams into the vocabulary too (default:"
        " the gold text's only; silver-only units then need a pre-trained vector)",
    )
    ap.add_argument(
        "--join-lists",
        action="store_true",
        help="also train on copies of sentences whose entity lists lose their separators"
        " (ner_inference.builtin.augment)",
    )
    ap.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from these weights (and their vocabularies) instead of a new tagger",
    )
    ap.add_argument(
        "--lm",
        type=Path,
        default=None,
        help="start the LSTM from the character language models in this directory"
        " (forward.pt, backward.pt from ner_inference.builtin.charlm)",
    )
    ap.add_argument(
        "--lm-features",
        action="store_true",
        help="with --lm: feed the language models' states to the tagger (frozen, and the"
        " embeddings frozen with them) instead of starting its LSTM from them",
    )
    ap.add_argument(
        "--lm-lr-scale",
        type=float,
        default=1.0,
        help="with --lm: the LSTM's learning rate relative to --lr (below 1 keeps more of"
        " what the language models learnt)",
    )
    ap.add_argument(
        "--ema",
        type=float,
        default=0.0,
        metavar="DECAY",
        help="evaluate and export an exponential moving average of the weights, updated after"
        " every step with this decay (0.999: about the last 1,000 steps); 0: the weights as is",
    )
    ap.add_argument("--seed", type=int, default=SEED, help="initialisation and batch order")
    ap.add_argument(
        "--split-seed",
        type=int,
        default=SEED,
        help="which sentences are dev; kept apart from --seed so that runs with other seeds"
        " are compared on the same dev sentences",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap.parse_args(argv)


def split_dev(
    sentences: list[msra.Sentence], fraction: float, seed: int
) -> tuple[list[msra.Sentence], list[msra.Sentence]]:
    if fraction <= 0:
        return sentences, []
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


def version_name(args: argparse.Namespace, epoch: int) -> str:
    """``msra-e26``; ``+lists``/``+silver``/``+soft`` for augmented data, ``+lm`` for a pre-trained
    LSTM, ``+ema`` for averaged weights, ``-all`` without a dev split."""
    data = (
        "msra"
        + "+lists" * args.join_lists
        + "+silver" * bool(args.silver)
        + "+soft" * bool(args.soft_silver)
        + "+lm" * (args.lm is not None)
        + "+ema" * bool(args.ema)
    )
    return f"{data}{'-all' if args.dev_fraction <= 0 else ''}-e{epoch}"


@dataclass
class Progress:
    """What a resumed run needs besides the weights and optimiser."""

    best: float = -1.0
    next_epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    def epochs_without_gain(self) -> int:
        best, since = -1.0, 0
        for h in self.history:
            if "dev_f1" in h:
                best, since = (h["dev_f1"], 0) if h["dev_f1"] > best else (best, since + 1)
        return since


@dataclass
class Data:
    encoder: Encoder
    vectors: Pretrained | None
    train: list[Encoded]
    targets: list[torch.Tensor | SoftTags]  # per training sentence: tag indices or soft tags
    dev: list[msra.Sentence]
    start: Tagger | None = None  # --init: the tagger to train on


def read_silver(paths: list[Path]) -> list[msra.Sentence]:
    return [s for path in paths for s in msra.parse(path.read_text(encoding="utf-8").splitlines())]


def gold_and_dev(args: argparse.Namespace) -> tuple[list[msra.Sentence], list[msra.Sentence]]:
    """MSRA train (its first --max-sentences) split into training and dev sentences."""
    sentences = msra.read("train")
    if args.max_sentences:
        sentences = sentences[: args.max_sentences]
    return split_dev(sentences, args.dev_fraction, args.split_seed)


def prepare(args: argparse.Namespace) -> Data:
    gold, dev = gold_and_dev(args)
    joined = [s for s in map(join_lists, gold) if s is not None] if args.join_lists else []
    silver = read_silver(args.silver)
    soft = [item for path in args.soft_silver for item in read_soft(path)]
    train = [*gold, *joined, *silver]
    start: Tagger | None = None
    vectors: Pretrained | None = None
    if args.init is not None:
        model = load(args.init, threads=args.threads)
        torch.set_num_threads(args.threads)  # load() leaves one intra-op thread
        encoder, start = model.encoder, model.tagger
        detail = f"init {args.init}"
    else:
        counted = [*gold, *silver] if args.silver_vocab else gold
        encoder, vectors = new_encoder(args, counted)
        words = len(encoder.words) if encoder.words is not None else 0
        detail = f"chars {len(encoder.chars)}  bigrams {len(encoder.bigrams)}  words {words}"
    print(
        f"train {len(gold)} + joined lists {len(joined)} + silver {len(silver)}"
        f" + soft silver {len(soft)}"
        f"  dev {len(dev)}  {detail}"
    )
    texts = [text for text, _ in train] + [text for text, _ in soft]
    return Data(
        encoder=encoder,
        vectors=vectors,
        # In slices: one lexicon scan per slice is much cheaper than one per sentence.
        train=[
            e for i in range(0, len(texts), 1000) for e in encoder.encode_many(texts[i : i + 1000])
        ],
        targets=[
            *(torch.tensor([TAG_INDEX[t] for t in tags]) for _, tags in train),
            *(tags for _, tags in soft),
        ],
        dev=dev,
        start=start,
    )


def new_encoder(
    args: argparse.Namespace, counted: list[msra.Sentence]
) -> tuple[Encoder, Pretrained | None]:
    """Vocabularies from the counted sentences (the gold ones, unless --silver-vocab) plus,
    with --embeddings, the pre-trained units."""
    char_counts, bigram_counts = count_units(text for text, _ in counted)
    chars = Vocab.build(char_counts, 1)
    pairs = Vocab.build(bigram_counts, args.bigram_min_count)
    vectors, words = None, None
    if args.embeddings is not None:
        vectors = Pretrained.load(args.embeddings)
        chars = Vocab([*chars.items, *vectors.chars])
        pairs = Vocab([*pairs.items, *vectors.bigrams[: args.max_pretrained_bigrams]])
        if vectors.words and args.max_words:
            words = Vocab(vectors.words[: args.max_words])
    return Encoder(chars, pairs, jieba_lexicon(), words), vectors


def train_epoch(training: Training, data: Data, plan: list[list[int]], bar: tqdm) -> float:
    """One pass over ``plan``; the mean loss. The average, if any, follows every step."""
    tagger, optimizer, averaged = training.tagger, training.optimizer, training.averaged
    tagger.train()
    total = 0.0
    for step, rows in enumerate(bar, 1):
        batch = collate([data.train[i] for i in rows])
        loss = tagger.loss(batch, Targets.collate([data.targets[i] for i in rows], batch.mask))
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(tagger.parameters(), 5.0)
        optimizer.step()
        if averaged is not None:
            averaged.update_parameters(tagger)
        total += loss.item()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{total / step:.3f}")
    return total / len(plan)


@dataclass
class Training:
    """Everything a checkpoint saves and a resumed run restores."""

    tagger: Tagger
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    rng: random.Random
    averaged: AveragedModel | None = None

    @property
    def evaluated(self) -> Tagger:
        """The weights that are evaluated on dev and exported: the average, if there is one."""
        if self.averaged is None:
            return self.tagger
        module = self.averaged.module
        assert isinstance(module, Tagger)
        return module

    def resume(self, checkpoint: Path) -> Progress:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        self.tagger.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        if self.averaged is not None:
            self.averaged.load_state_dict(state["averaged"])
        return Progress(state["best"], state["epoch"] + 1, state["history"])

    def save(self, checkpoint: Path, epoch: int, progress: Progress) -> None:
        state = {
            "model": self.tagger.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "epoch": epoch,
            "best": progress.best,
            "history": progress.history,
            "rng": self.rng.getstate(),
            "torch_rng": torch.get_rng_state(),
        }
        if self.averaged is not None:
            state["averaged"] = self.averaged.state_dict()
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)
        (checkpoint.parent / "history.json").write_text(json.dumps(progress.history, indent=1))


def starting_tagger(args: argparse.Namespace, data: Data) -> Tagger:
    """The --init tagger, or a new one that starts from the pre-trained vectors if any."""
    if data.start is not None:
        return data.start
    encoder = data.encoder
    n_words = len(encoder.words) if encoder.words is not None else 0
    lm_hidden = args.hidden if args.lm is not None and args.lm_features else 0
    config = NetworkConfig(
        len(encoder.chars),
        len(encoder.bigrams),
        hidden=args.hidden,
        n_words=n_words,
        lm_hidden=lm_hidden,
    )
    tagger = Tagger(config)
    if data.vectors is not None:
        n_chars, n_bigrams, n_word_rows = data.vectors.initialise(tagger, encoder)
        print(f"pre-trained vectors for {n_chars} chars, {n_bigrams} bigrams, {n_word_rows} words")
    if args.lm is not None and args.lm_features:
        charlm.attach(tagger, encoder, args.lm)
        # The language models read the embeddings they were trained with.
        tagger.char_embedding.weight.requires_grad_(False)
        tagger.bigram_embedding.weight.requires_grad_(False)
        print(f"frozen language models from {args.lm} feed the LSTM")
    elif args.lm is not None:
        charlm.initialise(tagger, encoder, args.lm)
        print(f"LSTM and embeddings from the language models in {args.lm}")
    return tagger


def parameter_groups(tagger: Tagger, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The trained parameters; with --lm, the LSTM's at its own learning rate."""
    trained = [p for p in tagger.parameters() if p.requires_grad]
    if args.lm is None or args.lm_lr_scale == 1.0:
        return [{"params": trained}]
    lstm = {id(p) for p in tagger.lstm.parameters()}
    return [
        {"params": [p for p in trained if id(p) not in lstm]},
        {"params": list(tagger.lstm.parameters()), "lr": args.lr * args.lm_lr_scale},
    ]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    data = prepare(args)
    encoder = data.encoder
    tagger = starting_tagger(args, data)
    if tagger.word_embedding is not None and not args.tune_words:
        # Fine-tuned, the vectors of words seen in training drift away from those of words
        # only the test text has, which keep their pre-trained place: frozen, all stay comparable.
        tagger.word_embedding.weight.requires_grad_(False)
    optimizer = torch.optim.Adam(parameter_groups(tagger, args), lr=args.lr)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.lr_decay)
    averaged = (
        AveragedModel(tagger, multi_avg_fn=get_ema_multi_avg_fn(args.ema))  # type: ignore[no-untyped-call]
        if args.ema
        else None
    )
    training = Training(tagger, optimizer, schedule, rng, averaged)
    checkpoint = args.run_dir / "last.pt"
    progress = Progress()
    if checkpoint.exists():
        progress = training.resume(checkpoint)
        print(f"resumed after epoch {progress.next_epoch}, best dev F1 {progress.best:.2f}")

    lengths = [len(e.chars) for e in data.train]
    for epoch in range(progress.next_epoch, args.epochs):
        if progress.epochs_without_gain() >= args.patience:
            print(f"no dev gain for {args.patience} epochs: stopping")
            break
        started = time.perf_counter()
        plan = batches(lengths, args.batch_size, rng)
        bar = tqdm(plan, desc=f"epoch {epoch + 1}/{args.epochs}", disable=args.quiet, ncols=100)
        loss = train_epoch(training, data, plan, bar)
        schedule.step()
        version = version_name(args, epoch + 1)
        entry = {"epoch": epoch + 1, "loss": loss}
        # Without a dev set there is nothing to select on: every epoch is exported.
        improved = True
        if data.dev:
            model = BuiltinModel(training.evaluated, encoder, version)
            entry["dev_f1"] = f1 = dev_f1(model, data.dev)
            improved = f1 > progress.best
            progress.best = max(progress.best, f1)
        entry["seconds"] = seconds = time.perf_counter() - started
        progress.history.append(entry)
        if improved:
            meta = {
                "version": version,
                "dev_f1": round(entry["dev_f1"], 2) if data.dev else None,
                "seed": args.seed,
                "args": {k: str(v) for k, v in vars(args).items()},
                "history": progress.history,
            }
            save(args.export, training.evaluated, encoder, meta)
        dev_report = f"dev F1 {entry['dev_f1']:.2f}  best {progress.best:.2f}" if data.dev else ""
        print(
            f"epoch {epoch + 1}: loss {loss:.4f}  {dev_report}"
            f"{'  (exported)' if improved else ''}  {seconds:.0f}s",
            flush=True,
        )
        training.save(checkpoint, epoch, progress)
    summary = f"best dev F1 {progress.best:.2f}" if data.dev else "no dev set: last epoch"
    print(f"{summary}; weights in {args.export}")


if __name__ == "__main__":
    main()
