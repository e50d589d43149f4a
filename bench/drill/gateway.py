"""The gateway's nginx configuration for the drill, rendered by the operator's own renderer.

The drill must test what production runs, so it never writes nginx configuration: it asks
``ner_operator.gateway.render_nginx_conf`` for "region A active, region B backup" with loopback
server addresses, a loopback listen address and a private prefix for pid, logs and temp files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ner_operator.gateway import LOG_FORMAT, GatewayConfig, Paths, Timings, render_nginx_conf

CLUSTER_NAME = "drill"


@dataclass(frozen=True)
class RenderedGateway:
    conf: str  # a complete nginx.conf
    log_format: str  # the access log's format string, to parse it
    access_log: Path


def render_gateway(
    regions: dict[str, list[str]],
    active: str,
    listen: tuple[str, int],
    prefix: Path,
    client_keepalive: float | None = None,
) -> RenderedGateway:
    """``client_keepalive`` is the NerCluster's ``spec.gateway.clientKeepaliveSeconds``."""
    paths = Paths.in_prefix(prefix)
    config = GatewayConfig.active_passive(
        CLUSTER_NAME,
        regions,
        active,
        listen=f"{listen[0]}:{listen[1]}",
        paths=paths,
        timings=Timings(client_keepalive_timeout=client_keepalive),
    )
    return RenderedGateway(render_nginx_conf(config), LOG_FORMAT, Path(paths.access_log))
