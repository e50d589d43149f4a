"""The gateway's nginx configuration, rendered by the operator (``ner_operator.gateway``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GatewayConfig:
    conf: str  # a complete nginx.conf
    log_format: str  # the access log's format string, to parse it
    access_log: Path


def render_gateway(
    regions: dict[str, list[str]], active: str, listen: tuple[str, int], prefix: Path
) -> GatewayConfig:
    raise NotImplementedError("waiting for ner_operator.gateway.render_nginx_conf")
