"""Settings come from NER_* variables, the names the operator's Deployment sets."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from ner_inference.server.settings import Settings, cpu_budget
from pydantic import ValidationError


def test_operator_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "NER_HOST": "0.0.0.0",
        "NER_PORT": "8080",
        "NER_BACKEND": "raner",
        "NER_MODEL_PATH": "/models/raner",
        "NER_DRAIN_SECONDS": "12.5",
        "NER_TORCH_THREADS": "3",
        "NER_LOG_JSON": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert (settings.host, settings.port, settings.backend) == ("0.0.0.0", 8080, "raner")
    assert settings.model_path == "/models/raner"
    assert settings.drain_seconds == 12.5
    assert settings.threads() == 3
    assert settings.log_json is True


def test_defaults_serve_on_7860_with_the_pods_cpus() -> None:
    settings = Settings()
    assert settings.port == 7860 and settings.backend == "builtin"
    assert settings.max_text_chars == 100_000
    assert settings.threads() == cpu_budget() >= 1
    assert cpu_budget() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("name", "value"),
    [("NER_PORT", "seventy"), ("NER_BACKEND", "bert"), ("NER_BATCH_SIZE", "0")],
)
def test_a_bad_setting_stops_the_start_with_its_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("NER_").lower()):
        Settings()


def test_the_server_refuses_to_start_on_a_bad_setting() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "ner_inference.server"],
        env={**os.environ, "NER_PORT": "-1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode != 0
    assert "port" in process.stderr
