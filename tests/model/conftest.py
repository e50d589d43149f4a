from __future__ import annotations

import pytest
from ner_inference.builtin import BuiltinModel, load


@pytest.fixture(scope="session")
def model() -> BuiltinModel:
    return load()
