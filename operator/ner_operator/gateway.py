"""The global gateway: an nginx in front of the regions, and its Kubernetes objects.

Pure functions only. ``render_nginx_conf`` turns "which region is active, which ones are backup,
their server addresses, the timings" into a complete ``nginx.conf``; ``gateway_objects`` wraps
that configuration into a ConfigMap, a Deployment and a Service for the gateway's target.

Failover happens twice, at two speeds:

* in milliseconds, inside nginx, without the operator: the active region's servers are the
  primary servers of one upstream group and the other regions' servers are ``backup``. A request
  whose connection fails, times out, or gets a 502/503/504 is retried at once on the next server
  (``proxy_next_upstream``; a ``/predict`` POST has no side effects, so ``non_idempotent`` is
  safe); after ``max_fails`` such failures a server is skipped for ``fail_timeout``. When every
  primary server is skipped, the backups take the traffic.
* in seconds, by the operator: it scales the standby up and renders this configuration again
  with the standby as the primary (the ConfigMap's hash rolls the gateway pods).

Endpoint host names are resolved by nginx when it loads the configuration (start or reload), not
per request: a region whose DNS name changes needs a reload (the operator's next render does it),
and a name that does not resolve at start makes nginx refuse the configuration.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ner_operator.cluster import Cluster

Object = dict[str, Any]

# Fields the drill's access-log parser (and a human with awk) needs: when, who answered (every
# server tried, in order), with what status, how long, and what the client got.
LOG_FORMAT = (
    '$msec $remote_addr "$request" $status $request_time '
    "$upstream_addr $upstream_status $upstream_response_time $upstream_connect_time"
)
CONFIG_HASH_ANNOTATION = "nerha.dev/config-hash"
CONFIG_KEY = "nginx.conf"
COMPONENT = "app.kubernetes.io/component"
GATEWAY_PORT = 8080  # unprivileged: the gateway runs as a non-root user
GATEWAY_USER = 101  # the "nginx" user of the official nginx images
_SCHEMES = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Timings:
    """nginx's passive failover knobs; the defaults move traffic in well under a second.

    ``connect_timeout`` bounds how long a dead (blackholed) server delays a request before the
    retry; a refused connection fails at once. ``read_timeout`` bounds a hung server: a /predict
    answers in milliseconds, so seconds of silence mean the server is stuck, not busy.
    """

    connect_timeout: float = 0.5
    read_timeout: float = 5.0
    send_timeout: float = 5.0
    max_fails: int = 1
    fail_timeout: int = 5  # whole seconds: nginx's server parameter has no finer unit
    # 0 = try every server of every region once at most (primary and backup).
    next_upstream_tries: int = 0
    next_upstream_timeout: float = 15.0
    keepalive: int = 32
    # Below uvicorn's 5 s keep-alive: nginx must close an idle connection before the server does,
    # or it may send a request on a connection the server is closing (a spurious failure that
    # would count towards max_fails).
    keepalive_timeout: float = 4.0
    # Toward clients; None keeps nginx's default (75 s). When the gateway reloads or its pod is
    # replaced, nginx's old workers close kept-alive client connections without a
    # `Connection: close` first, so a request a client sends at that instant gets no answer.
    # 0 closes every connection after its response (announced), which a reload cannot cut; the
    # price is a new TCP connection per request.
    client_keepalive_timeout: float | None = None
    client_max_body_size: str = "1m"

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "send_timeout", "fail_timeout"):
            # fail_timeout is in whole seconds; the others accept milliseconds.
            if getattr(self, name) <= 0:
                raise ValueError(f"gateway timing {name} must be > 0")
        if self.max_fails < 1:
            raise ValueError("gateway max_fails must be >= 1")
        if self.next_upstream_tries < 0 or self.keepalive < 0:
            raise ValueError("gateway next_upstream_tries and keepalive must be >= 0")
        if self.client_keepalive_timeout is not None and self.client_keepalive_timeout < 0:
            raise ValueError("gateway client_keepalive_timeout must be >= 0")


@dataclass(frozen=True)
class Paths:
    """Where nginx writes: pid file, logs and temp directories (relative to nginx's ``-p``).

    Defaults suit a throwaway prefix (``nginx -p <dir>``), so nginx runs unprivileged anywhere.
    """

    pid: str = "nginx.pid"
    error_log: str = "error.log"
    access_log: str = "access.log"
    temp_dir: str = "."  # nginx creates the temp directories inside it, not the directory itself

    @classmethod
    def in_prefix(cls, prefix: Path) -> Paths:
        """Absolute paths inside ``prefix`` (independent of the ``-p`` given to nginx)."""
        return cls(
            pid=str(prefix / "nginx.pid"),
            error_log=str(prefix / "error.log"),
            access_log=str(prefix / "access.log"),
            temp_dir=str(prefix),
        )


# In the gateway pod: logs to the container's streams, everything else in the /tmp emptyDir (the
# root file system is read-only).
KUBERNETES_PATHS = Paths(
    pid="/tmp/nginx.pid",
    error_log="stderr",
    access_log="/dev/stdout",
    temp_dir="/tmp",
)


@dataclass(frozen=True)
class GatewayUpstream:
    """One region as the gateway sees it: its name and one or more ``host:port`` servers.

    In Kubernetes a region is one server (its Service's endpoint URL); in the drill a region is
    several loopback processes.
    """

    name: str
    servers: tuple[str, ...]
    scheme: str = "http"

    def __post_init__(self) -> None:
        if not self.servers:
            raise ValueError(f"region {self.name}: no server address")
        for server in self.servers:
            _check_address(server)
        if self.scheme not in _SCHEMES:
            raise ValueError(f"region {self.name}: scheme must be http or https")

    @classmethod
    def from_endpoints(cls, name: str, endpoints: Sequence[str]) -> GatewayUpstream:
        """From URLs (``http://host:port``, port defaults by scheme) or bare ``host:port``."""
        parsed = [_split_endpoint(name, e) for e in endpoints]
        schemes = {scheme for scheme, _ in parsed}
        if len(schemes) > 1:
            raise ValueError(f"region {name}: endpoints mix http and https")
        return cls(name, tuple(addr for _, addr in parsed), schemes.pop() if schemes else "http")


@dataclass(frozen=True)
class GatewayConfig:
    """Everything ``render_nginx_conf`` needs; build it with ``GatewayConfig.active_passive``."""

    name: str  # the NerCluster's name; names the upstream group
    primary: tuple[GatewayUpstream, ...]  # serving regions (one in activePassive)
    backup: tuple[GatewayUpstream, ...] = ()
    listen: str = f"0.0.0.0:{GATEWAY_PORT}"  # nginx "listen" argument: "port" or "addr:port"
    paths: Paths = field(default_factory=Paths)
    timings: Timings = field(default_factory=Timings)
    worker_processes: str = "auto"
    # The "user" directive; only meaningful when nginx starts as root (e.g. tests in a sandbox
    # whose temp prefix "nobody" cannot enter). None leaves nginx's default.
    user: str | None = None

    def __post_init__(self) -> None:
        regions = [u.name for u in (*self.primary, *self.backup)]
        if not self.primary:
            raise ValueError("the gateway needs at least one primary region")
        if len(set(regions)) != len(regions):
            raise ValueError(f"a region is listed twice in the gateway: {regions}")
        if len({u.scheme for u in (*self.primary, *self.backup)}) > 1:
            raise ValueError("all regions behind one gateway must use the same scheme")

    @classmethod
    def active_passive(
        cls,
        name: str,
        regions: Mapping[str, Sequence[str]],
        active: str,
        **options: Any,
    ) -> GatewayConfig:
        """``active`` is the primary upstream, every other region of ``regions`` is backup.

        ``regions`` maps a region name to its endpoints (URLs or ``host:port``), in order.
        ``options`` are the other fields (``listen``, ``paths``, ``timings``, ``user``...).
        """
        if active not in regions:
            raise ValueError(f"active region {active!r} is not one of {sorted(regions)}")
        primary = GatewayUpstream.from_endpoints(active, regions[active])
        backup = tuple(
            GatewayUpstream.from_endpoints(region, endpoints)
            for region, endpoints in regions.items()
            if region != active
        )
        return cls(name=name, primary=(primary,), backup=backup, **options)

    @property
    def active(self) -> str:
        return self.primary[0].name

    @property
    def upstream_name(self) -> str:
        return "ner_" + re.sub(r"[^A-Za-z0-9_]", "_", self.name)


def render_nginx_conf(config: GatewayConfig) -> str:
    """A complete nginx.conf for ``config`` (stable text: same input, same bytes)."""
    t = config.timings
    client_keepalive = []
    if t.client_keepalive_timeout is not None:  # 0 must stay 0 (off), not round up to 1ms
        seconds = t.client_keepalive_timeout
        client_keepalive = [f"        keepalive_timeout {_s(seconds) if seconds else '0'};"]
    p = config.paths
    servers = [
        f"server {addr} max_fails={t.max_fails} fail_timeout={t.fail_timeout}s;"
        for upstream in config.primary
        for addr in upstream.servers
    ]
    servers += [
        f"server {addr} max_fails={t.max_fails} fail_timeout={t.fail_timeout}s backup;"
        for upstream in config.backup
        for addr in upstream.servers
    ]
    total = len(servers)
    tries = t.next_upstream_tries or total
    regions_comment = "; ".join(
        [f"primary {u.name}" for u in config.primary] + [f"backup {u.name}" for u in config.backup]
    )
    scheme = config.primary[0].scheme
    temp = p.temp_dir.rstrip("/")
    user = [f"user {config.user};"] if config.user else []
    lines = [
        f"# Gateway of NerCluster {config.name}: {regions_comment}.",
        "# Rendered by ner_operator.gateway; edits are overwritten.",
        *user,
        "daemon off;",
        f"worker_processes {config.worker_processes};",
        f"pid {p.pid};",
        f"error_log {p.error_log} warn;",
        "",
        "events {",
        "    worker_connections 4096;",
        "}",
        "",
        "http {",
        f"    log_format gateway '{LOG_FORMAT}';",
        f"    access_log {p.access_log} gateway;",
        "    server_tokens off;",
        "    sendfile off;",
        # Everything stays in memory: the pod's root file system is read-only, and a worker that
        # is not root may not be allowed into the temp prefix.
        f"    client_body_temp_path {temp}/client_body;",
        f"    proxy_temp_path {temp}/proxy;",
        f"    fastcgi_temp_path {temp}/fastcgi;",
        f"    uwsgi_temp_path {temp}/uwsgi;",
        f"    scgi_temp_path {temp}/scgi;",
        f"    client_max_body_size {t.client_max_body_size};",
        f"    client_body_buffer_size {t.client_max_body_size};",
        "",
        f"    upstream {config.upstream_name} {{",
        # least_conn: a slow server gets fewer requests; it keeps "backup" semantics.
        "        least_conn;",
        *(f"        {s}" for s in servers),
        f"        keepalive {t.keepalive};",
        f"        keepalive_timeout {_s(t.keepalive_timeout)};",
        "    }",
        "",
        "    server {",
        f"        listen {config.listen};",
        *client_keepalive,
        "",
        "        location = /healthz {",
        "            access_log off;",
        "            default_type text/plain;",
        '            return 200 "ok\\n";',
        "        }",
        "",
        "        location / {",
        f"            proxy_pass {scheme}://{config.upstream_name};",
        "            proxy_http_version 1.1;",
        '            proxy_set_header Connection "";',
        "            proxy_set_header Host $host;",
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "            proxy_set_header X-Forwarded-Proto $scheme;",
        f"            proxy_connect_timeout {_s(t.connect_timeout)};",
        f"            proxy_send_timeout {_s(t.send_timeout)};",
        f"            proxy_read_timeout {_s(t.read_timeout)};",
        # Retries are only possible while nothing was sent to the client: the request body is
        # buffered (to send it again) and so is the response.
        "            proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;",
        f"            proxy_next_upstream_tries {tries};",
        f"            proxy_next_upstream_timeout {_s(t.next_upstream_timeout)};",
        "            proxy_request_buffering on;",
        "            proxy_buffering on;",
        "            proxy_buffer_size 16k;",
        "            proxy_buffers 16 16k;",
        "            proxy_max_temp_file_size 0;",
        "        }",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


def config_hash(conf: str) -> str:
    return hashlib.sha256(conf.encode("utf-8")).hexdigest()


def kubernetes_config(cluster: Cluster, active: str | None = None) -> GatewayConfig:
    """The gateway configuration of a NerCluster: its active region primary, the others backup.

    ``active`` defaults to the cluster's active region (status.activeRegion, else the primary).
    In activeActive every region is primary. Regions without an ``endpoint`` are left out.
    """
    spec = cluster.spec
    endpoints = {r.name: [r.endpoint] for r in spec.regions if r.endpoint}
    if not endpoints:
        raise ValueError("the gateway needs at least one region with an endpoint")
    active_name = active or cluster.active_region
    options: dict[str, Any] = {"listen": str(GATEWAY_PORT), "paths": KUBERNETES_PATHS}
    if spec.gateway.client_keepalive_seconds is not None:
        options["timings"] = Timings(client_keepalive_timeout=spec.gateway.client_keepalive_seconds)
    if spec.mode == "activeActive":
        upstreams = tuple(GatewayUpstream.from_endpoints(n, e) for n, e in endpoints.items())
        return GatewayConfig(name=cluster.name, primary=upstreams, **options)
    if active_name not in endpoints:
        # The active region cannot be reached through the gateway; the others still can.
        active_name = next(iter(endpoints))
    return GatewayConfig.active_passive(cluster.name, endpoints, active_name, **options)


def gateway_objects(cluster: Cluster, active: str | None = None) -> list[Object]:
    """ConfigMap (nginx.conf), Deployment and Service of the gateway target.

    A NerCluster without any region endpoint gets no gateway objects (nothing to route to).
    """
    from ner_operator import labels
    from ner_operator.cluster import GATEWAY_TARGET, gateway_target

    target = gateway_target(cluster)
    if target is None or not any(r.endpoint for r in cluster.spec.regions):
        return []
    conf = render_nginx_conf(kubernetes_config(cluster, active))
    name = f"{cluster.name}-gateway"
    owned = labels.owned(cluster.name, cluster.uid, GATEWAY_TARGET)
    # The pods get their own app name: a region sharing the gateway's namespace must not select
    # them with its inference Service (whose selector is ``labels.pod_selector``).
    selector = {labels.NAME: "ner-gateway", labels.INSTANCE: cluster.name, COMPONENT: "gateway"}
    metadata = {
        "name": name,
        "namespace": target.namespace,
        "labels": {**owned, COMPONENT: "gateway"},
    }
    gateway = cluster.spec.gateway
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {CONFIG_KEY: conf}},
        _deployment(
            metadata, selector, image=gateway.image, replicas=gateway.replicas, name=name, conf=conf
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": {
                "type": gateway.service_type,
                "selector": selector,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    ]


def _deployment(
    metadata: Object, selector: dict[str, str], *, image: str, replicas: int, name: str, conf: str
) -> Object:
    conf_dir = "/etc/ner-gateway"
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            # Never fewer ready gateways than wanted while a new configuration rolls out.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": {**metadata["labels"], **selector},
                    "annotations": {CONFIG_HASH_ANNOTATION: config_hash(conf)},
                },
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": GATEWAY_USER,
                        "runAsGroup": GATEWAY_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    # nginx's SIGQUIT finishes in-flight requests; the preStop sleep lets the
                    # Service drop the pod before that starts.
                    "terminationGracePeriodSeconds": 30,
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "labelSelector": {"matchLabels": selector},
                                        "topologyKey": "topology.kubernetes.io/zone",
                                    },
                                },
                                {
                                    "weight": 50,
                                    "podAffinityTerm": {
                                        "labelSelector": {"matchLabels": selector},
                                        "topologyKey": "kubernetes.io/hostname",
                                    },
                                },
                            ]
                        }
                    },
                    "containers": [
                        {
                            "name": "nginx",
                            "image": image,
                            # Bypass the image's entrypoint scripts: they rewrite files under
                            # /etc/nginx, which is read-only here.
                            "command": ["nginx"],
                            "args": ["-c", f"{conf_dir}/{CONFIG_KEY}", "-e", "stderr"],
                            "ports": [
                                {"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"}
                            ],
                            "readinessProbe": {**probe, "failureThreshold": 1},
                            "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
                            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "64Mi"},
                                "limits": {"cpu": "1", "memory": "256Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {"name": "config", "mountPath": conf_dir, "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": name}},
                        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    ],
                },
            },
        },
    }


def _split_endpoint(region: str, endpoint: str) -> tuple[str, str]:
    if "://" not in endpoint:
        return "http", endpoint
    url = urlsplit(endpoint)
    if url.scheme not in _SCHEMES or not url.hostname:
        raise ValueError(f"region {region}: endpoint {endpoint!r} is not an http(s) URL")
    if url.path not in ("", "/") or url.query or url.fragment:
        raise ValueError(f"region {region}: endpoint {endpoint!r} must not have a path or query")
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    return url.scheme, f"{host}:{url.port or _SCHEMES[url.scheme]}"


_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):\d{1,5}$")


def _check_address(address: str) -> None:
    # Also keeps nginx syntax out of the rendered text (no ";", "{" or spaces from a spec).
    if not _ADDRESS.match(address) or not 0 < int(address.rsplit(":", 1)[1]) < 65536:
        raise ValueError(f"server address {address!r} is not host:port")


def _s(seconds: float) -> str:
    return f"{_ms_int(seconds) / 1000:g}s" if _ms_int(seconds) % 1000 == 0 else _ms(seconds)


def _ms(seconds: float) -> str:
    return f"{_ms_int(seconds)}ms"


def _ms_int(seconds: float) -> int:
    return max(1, round(seconds * 1000))
