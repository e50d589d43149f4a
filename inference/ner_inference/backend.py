"""What the server needs from a model, and the factory that picks one from the settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ner_inference.entities import Entity

if TYPE_CHECKING:
    from ner_inference.server.settings import Settings

RANER_HUB_MODEL = "damo/nlp_raner_named-entity-recognition_chinese-base-news"


class Backend(Protocol):
    """A loaded model: ``predict`` is thread-safe for one caller at a time and blocks."""

    name: str
    version: str
    load_seconds: float

    def predict(self, texts: Sequence[str]) -> list[list[Entity]]: ...


def load_backend(settings: Settings) -> Backend:
    """Load the configured model (blocking, seconds): call it off the event loop."""
    threads = settings.threads()
    if settings.backend == "raner":
        # Imported lazily: modelscope and transformers are an optional extra and slow to import.
        from ner_inference.raner import load as load_raner

        backend: Backend = load_raner(model=settings.model_path or RANER_HUB_MODEL, threads=threads)
        return backend
    from ner_inference.builtin import DEFAULT_WEIGHTS
    from ner_inference.builtin import load as load_builtin

    return load_builtin(
        settings.model_path or DEFAULT_WEIGHTS, threads=threads, quantize=settings.int8
    )
