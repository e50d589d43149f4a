"""The gateway renderer: nginx accepts every configuration, and it says what the issue asks."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ner_operator import gateway, labels
from ner_operator.cluster import cluster_from_body
from ner_operator.gateway import GatewayConfig, GatewayUpstream, Paths, Timings, render_nginx_conf

from tests.failover import nginx
from tests.support import samples

REGIONS = {
    "region-a": ["127.0.0.1:9101", "127.0.0.1:9102"],
    "region-b": ["http://127.0.0.1:9201", "http://localhost:9202"],
}


def _servers(conf: str) -> list[str]:
    return re.findall(r"^\s*server (\S+ .*);$", conf, flags=re.MULTILINE)


def _config(tmp_path: Path, active: str = "region-a", **options: Any) -> GatewayConfig:
    return GatewayConfig.active_passive(
        "demo",
        REGIONS,
        active,
        listen="127.0.0.1:18080",
        paths=Paths.in_prefix(tmp_path),
        **options,
    )


def test_active_region_is_primary_and_the_other_is_backup(tmp_path: Path) -> None:
    conf = render_nginx_conf(_config(tmp_path))
    nginx.check(conf, tmp_path)
    assert _servers(conf) == [
        "127.0.0.1:9101 max_fails=1 fail_timeout=5s",
        "127.0.0.1:9102 max_fails=1 fail_timeout=5s",
        "127.0.0.1:9201 max_fails=1 fail_timeout=5s backup",
        "localhost:9202 max_fails=1 fail_timeout=5s backup",
    ]

    switched = render_nginx_conf(_config(tmp_path, active="region-b"))
    nginx.check(switched, tmp_path)
    assert _servers(switched) == [
        "127.0.0.1:9201 max_fails=1 fail_timeout=5s",
        "localhost:9202 max_fails=1 fail_timeout=5s",
        "127.0.0.1:9101 max_fails=1 fail_timeout=5s backup",
        "127.0.0.1:9102 max_fails=1 fail_timeout=5s backup",
    ]


def test_retries_keepalive_buffering_and_log_fields(tmp_path: Path) -> None:
    conf = render_nginx_conf(_config(tmp_path))
    for directive in (
        "proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;",
        "proxy_next_upstream_tries 4;",  # every server once, then give up
        "proxy_next_upstream_timeout 15s;",
        "proxy_connect_timeout 500ms;",
        "proxy_read_timeout 5s;",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "keepalive 32;",
        "proxy_buffering on;",
        "proxy_request_buffering on;",
        "listen 127.0.0.1:18080;",
        "location = /healthz {",
        "daemon off;",
        f"pid {tmp_path / 'nginx.pid'};",
        f"access_log {tmp_path / 'access.log'} gateway;",
    ):
        assert directive in conf
    for variable in ("$msec", "$upstream_addr", "$upstream_status", "$request_time", "$status"):
        assert variable in gateway.LOG_FORMAT
    assert f"log_format gateway '{gateway.LOG_FORMAT}';" in conf


def test_timings_are_rendered_and_checked_by_nginx(tmp_path: Path) -> None:
    timings = Timings(
        connect_timeout=0.25,
        read_timeout=2.5,
        max_fails=3,
        fail_timeout=2,
        next_upstream_tries=2,
        next_upstream_timeout=3,
    )
    conf = render_nginx_conf(_config(tmp_path, timings=timings))
    nginx.check(conf, tmp_path)
    assert "proxy_connect_timeout 250ms;" in conf
    assert "proxy_read_timeout 2500ms;" in conf
    assert "proxy_next_upstream_tries 2;" in conf
    assert "server 127.0.0.1:9101 max_fails=3 fail_timeout=2s;" in conf


def test_relative_paths_run_in_any_prefix(tmp_path: Path) -> None:
    config = GatewayConfig.active_passive("demo", REGIONS, "region-a", listen="127.0.0.1:18081")
    nginx.check(render_nginx_conf(config), tmp_path / "prefix")


def test_active_active_has_no_backup(tmp_path: Path) -> None:
    upstreams = tuple(GatewayUpstream.from_endpoints(n, e) for n, e in REGIONS.items())
    config = GatewayConfig(
        "demo", primary=upstreams, listen="127.0.0.1:18082", paths=Paths.in_prefix(tmp_path)
    )
    conf = render_nginx_conf(config)
    nginx.check(conf, tmp_path)
    assert len(_servers(conf)) == 4
    assert "backup" not in conf


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    assert render_nginx_conf(_config(tmp_path)) == render_nginx_conf(_config(tmp_path))


@pytest.mark.parametrize(
    ("endpoint", "server"),
    [
        ("http://ner-a.example.com", "ner-a.example.com:80"),
        ("https://ner-a.example.com/", "ner-a.example.com:443"),
        ("http://10.0.0.7:7860", "10.0.0.7:7860"),
        ("http://[::1]:7860", "[::1]:7860"),
        ("127.0.0.1:7860", "127.0.0.1:7860"),
    ],
)
def test_endpoint_urls_become_server_addresses(endpoint: str, server: str) -> None:
    assert GatewayUpstream.from_endpoints("r", [endpoint]).servers == (server,)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://ner-a.example.com/v1",  # a path cannot be expressed per upstream server
        "ftp://ner-a.example.com",
        "ner-a.example.com",  # no port
        "127.0.0.1:7860; include /etc/passwd",  # nginx syntax from a spec never reaches the file
        "127.0.0.1:70000",
    ],
)
def test_bad_endpoints_are_refused_with_the_region_named(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"region r|not host:port"):
        GatewayUpstream.from_endpoints("r", [endpoint])


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="active region 'c'"):
        GatewayConfig.active_passive("demo", REGIONS, "c")
    with pytest.raises(ValueError, match="same scheme"):
        GatewayConfig.active_passive("demo", {"a": ["http://x:1"], "b": ["https://y:2"]}, "a")
    with pytest.raises(ValueError, match="max_fails"):
        Timings(max_fails=0)


def _cluster(active: str | None = None, **spec: Any) -> Any:
    base = samples.spec(gateway={"enabled": True, "replicas": 2, "serviceType": "ClusterIP"})
    base["regions"][0]["endpoint"] = "http://127.0.0.1:9101"
    base["regions"][1]["endpoint"] = "http://127.0.0.1:9201"
    base.update(spec)
    status = {"activeRegion": active} if active else None
    return cluster_from_body(samples.nercluster(uid="uid-1", spec_=base, status=status))


def _kinds(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


def test_kubernetes_objects_are_valid_and_carry_the_config(tmp_path: Path) -> None:
    objects = gateway.gateway_objects(_cluster())
    kinds = _kinds(objects)
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Service"]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.31.0", strict=True)
        assert obj["metadata"]["name"] == "demo-gateway"
        assert obj["metadata"]["namespace"] == "ner-system"  # the NerCluster's namespace
        owned = labels.owned("demo", "uid-1", "gateway")
        assert owned.items() <= obj["metadata"]["labels"].items()

    conf = kinds["ConfigMap"]["data"]["nginx.conf"]
    assert "server 127.0.0.1:9201 max_fails=1 fail_timeout=5s backup;" in conf
    # The pod's paths are absolute (/tmp emptyDir); check the same text in a temp prefix.
    nginx.check(conf.replace("/tmp/", f"{tmp_path}/").replace("/tmp;", f"{tmp_path};"), tmp_path)

    deployment = kinds["Deployment"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["replicas"] == 2
    assert pod["metadata"]["annotations"]["nerha.dev/config-hash"] == gateway.config_hash(conf)
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "podAntiAffinity" in pod["spec"]["affinity"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "demo-gateway"
    assert "emptyDir" in volumes["tmp"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    # A region's inference Service in the same namespace must not select the gateway's pods.
    assert not labels.pod_selector("demo").items() <= pod["metadata"]["labels"].items()
    assert kinds["Service"]["spec"]["type"] == "ClusterIP"
    assert kinds["Service"]["spec"]["selector"] == selector


def test_switching_the_active_region_changes_the_hash_so_the_gateway_rolls() -> None:
    def pod_hash(active: str | None) -> str:
        deployment = _kinds(gateway.gateway_objects(_cluster(active)))["Deployment"]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["nerha.dev/config-hash"])

    assert pod_hash(None) == pod_hash("region-a")  # no activeRegion: the primary
    assert pod_hash("region-b") != pod_hash("region-a")
    conf_b = _kinds(gateway.gateway_objects(_cluster("region-b")))["ConfigMap"]["data"]
    assert "server 127.0.0.1:9101 max_fails=1 fail_timeout=5s backup;" in conf_b["nginx.conf"]


def test_gateway_disabled_or_without_endpoints_builds_nothing() -> None:
    assert gateway.gateway_objects(_cluster(gateway={"enabled": False})) == []
    regions = samples.spec()["regions"]
    for region in regions:
        region.pop("endpoint")
    assert gateway.gateway_objects(_cluster(regions=regions, gateway={"enabled": True})) == []


def test_kubernetes_config_listens_unprivileged_and_logs_to_the_container() -> None:
    config = gateway.kubernetes_config(_cluster())
    assert config.listen == "8080"
    assert config.paths == gateway.KUBERNETES_PATHS
    assert dataclasses.replace(config, listen="1").active == "region-a"


def test_client_keepalive_comes_from_the_spec_and_nginx_accepts_it(tmp_path: Path) -> None:
    default = render_nginx_conf(gateway.kubernetes_config(_cluster()))
    assert "        keepalive_timeout" not in default.split("    server {")[1]  # nginx's 75 s
    gateway_spec = {"enabled": True, "serviceType": "ClusterIP", "clientKeepaliveSeconds": 0}
    config = gateway.kubernetes_config(_cluster(gateway=gateway_spec))
    assert config.timings.client_keepalive_timeout == 0
    conf = render_nginx_conf(config)
    assert "        keepalive_timeout 0;" in conf.split("    server {")[1]
    nginx.check(render_nginx_conf(_config(tmp_path, timings=config.timings)), tmp_path)
    with pytest.raises(ValueError, match="client_keepalive_timeout"):
        Timings(client_keepalive_timeout=-1)
