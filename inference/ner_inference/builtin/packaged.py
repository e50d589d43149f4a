"""Data files that ship inside packages of the training extra (MSRA, inews, People's Daily)."""

from __future__ import annotations

from importlib import util
from pathlib import Path


def package_dir(package: str, needed_for: str) -> Path:
    """The installed ``package``'s directory; a clear error when the training extra is missing."""
    spec = util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{needed_for} needs the training extra: pip install -e '.[train]'")
    return Path(next(iter(spec.submodule_search_locations)))
