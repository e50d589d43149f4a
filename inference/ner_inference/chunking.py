"""Split long texts into windows a model can take, and map entities back.

Backends see windows of at most ``max_len`` characters; the caller gets offsets
into the original text. Windows end after sentence punctuation when there is one
inside the window, else at the hard limit, so an entity is only cut when a
sentence runs longer than ``max_len`` with no punctuation at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ner_inference.entities import Entity, trimmed

# Closing punctuation after which a new sentence (or clause) starts.
SENTENCE_ENDS = frozenset("。！？!?；;\n\r…")
CLAUSE_ENDS = frozenset("，,、：:")


def windows(text: str, max_len: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` covering ``text`` exactly, each at most ``max_len`` long."""
    if max_len < 1:
        raise ValueError("max_len must be positive")
    spans: list[tuple[int, int]] = []
    start, n = 0, len(text)
    while start < n:
        end = min(start + max_len, n)
        if end < n:
            end = _best_cut(text, start, end)
        spans.append((start, end))
        start = end
    return spans


def _best_cut(text: str, start: int, limit: int) -> int:
    """The last sentence end in ``text[start:limit]``, else the last clause end, else ``limit``."""
    floor = start + 1
    for marks in (SENTENCE_ENDS, CLAUSE_ENDS):
        for i in range(limit - 1, floor - 1, -1):
            if text[i] in marks:
                return i + 1
    return limit


def predict_windowed(
    texts: Sequence[str],
    max_len: int,
    predict_windows: Callable[[list[str]], list[list[Entity]]],
) -> list[list[Entity]]:
    """Run ``predict_windows`` on every window of every text in one call; merge per text.

    Every backend's entities pass through here, so edge noise is trimmed once for all.
    """
    pieces: list[str] = []
    owners: list[tuple[int, int]] = []  # (text index, window start)
    for index, text in enumerate(texts):
        for start, end in windows(text, max_len):
            pieces.append(text[start:end])
            owners.append((index, start))
    results: list[list[Entity]] = [[] for _ in texts]
    if not pieces:
        return results
    for (index, offset), found in zip(owners, predict_windows(pieces), strict=True):
        for entity in found:
            kept = trimmed(entity)
            if kept is not None:
                results[index].append(kept.shifted(offset))
    return results
