"""Server settings from ``NER_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every field is also an env var: ``port`` is ``NER_PORT``, ``drain_seconds`` is
    ``NER_DRAIN_SECONDS``. The operator's Deployment sets host, port, backend, model path,
    drain seconds, torch threads and JSON logs."""

    model_config = SettingsConfigDict(env_prefix="NER_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=0, le=65535)
    backend: Literal["builtin", "raner"] = "builtin"
    model_path: str | None = None
    # int8 costs 0.08 F1 on MSRA test and buys ~1.6x throughput (docs/model.md).
    int8: bool = Field(default=True, description="dynamic int8 quantisation of the built-in model")
    torch_threads: int | None = Field(
        default=None, ge=1, description="default: the CPUs this pod may use"
    )

    batch_size: int = Field(default=64, ge=1, description="most texts in one forward pass")
    batch_wait_ms: float = Field(
        default=2.0, ge=0, description="how long a batch waits for company"
    )
    batch_concurrency: int = Field(
        default=2, ge=1, description="batches in flight: the next is gathered while one runs"
    )

    max_text_chars: int = Field(default=100_000, ge=1)
    max_batch_texts: int = Field(default=64, ge=1)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1)

    drain_seconds: float = Field(
        default=5.0, ge=0, description="serve on after SIGTERM, /ready 503"
    )
    stuck_seconds: float = Field(
        default=60.0, gt=0, description="/health fails if a batch runs longer"
    )

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = False
    access_log: bool = False

    def threads(self) -> int:
        return self.torch_threads or cpu_budget()


def cpu_budget() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 quota (a pod's limit)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
    except (OSError, ValueError):
        return cpus
    if quota == "max":
        return cpus
    return max(1, min(cpus, int(quota) // int(period)))
