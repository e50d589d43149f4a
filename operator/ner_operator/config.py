"""Operator settings: environment ``NER_OPERATOR_*`` or ``python -m ner_operator`` flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NER_OPERATOR_", frozen=True)

    kubeconfig: Path | None = Field(
        default=None,
        description="kubeconfig of the management cluster; default in-cluster, then ~/.kube/config",
    )
    resync_seconds: float = Field(
        default=15.0, gt=0, description="drift repair: every NerCluster is reconciled this often"
    )
    retry_seconds: float = Field(
        default=5.0, gt=0, description="delay before kopf retries after a transient region error"
    )
    request_timeout_seconds: float = Field(
        default=5.0, gt=0, description="timeout of one request to a region's API server"
    )
    metrics_host: str = Field(default="0.0.0.0", description="address of the /metrics server")
    metrics_port: int = Field(default=9090, ge=0, le=65535, description="port of /metrics; 0: off")
