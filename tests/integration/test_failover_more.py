"""Failover end to end, and the switches that must survive people and crashes.

* Through a real nginx that runs the configuration the operator wrote into the gateway's
  ConfigMap, in front of two real inference servers (``python -m ner_inference.server``): a
  client keeps sending ``POST /predict`` while region A's server is SIGKILLed and the gateway is
  reloaded with the operator's new configuration; no request fails.
* An operator killed in the middle of a failover (the gateway's cluster unreachable, so the switch
  stops half-way) is finished by the next operator, once.
* ``nerha.dev/switch-to`` is a one-shot request: answered once (accepted, refused, or nothing to
  do), recorded in ``status.failover.request``, and never replayed later by itself.

Same world as ``test_failover``: emulated clusters, the real operator process, time scaled down
4x from the defaults with the ratios kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ner_operator.cluster import cluster_from_body
from ner_operator.gateway import Paths, kubernetes_config, render_nginx_conf

from bench.drill.processes import Server
from tests.failover import nginx
from tests.failover.fake_region import Endpoint, free_port
from tests.integration.test_failover import FAILOVER, _event_reasons, _pods_ready, _replicas
from tests.support import samples
from tests.support.harness import (
    NAMESPACE,
    NERCLUSTERS,
    ApiServer,
    World,
    condition_of,
    eventually,
)

pytestmark = pytest.mark.integration
SWITCH_TO = "nerha.dev/switch-to"
GATEWAY_CONFIGMAP = f"/api/v1/namespaces/{NAMESPACE}/configmaps/demo-gateway"
SENTENCE = "李克强总理在北京会见了德国总理默克尔。"
ENTITIES = {("PER", "李克强"), ("LOC", "北京"), ("LOC", "德国"), ("PER", "默克尔")}
# The only nginx directives a local run may change in the operator's configuration: where it
# listens, where it writes, and which user its workers run as.
LOCAL_DIRECTIVES = (
    "listen ",
    "pid ",
    "error_log ",
    "access_log ",
    "client_body_temp_path ",
    "proxy_temp_path ",
    "fastcgi_temp_path ",
    "uwsgi_temp_path ",
    "scgi_temp_path ",
    "user ",
)


@pytest.fixture(autouse=True)
def _fast_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NER_OPERATOR_FAILOVER_TICK_SECONDS", "0.1")


async def _create(world: World, endpoints: dict[str, str], **spec: Any) -> None:
    failover = {**FAILOVER, **spec.pop("failover", {})}
    gateway = {"enabled": True, "serviceType": "ClusterIP", **spec.pop("gateway", {})}
    body = samples.spec(failover=failover, gateway=gateway, autoscaling={"enabled": False})
    for region in body["regions"]:
        region["endpoint"] = endpoints[region["name"]]
    await world.management.create(NERCLUSTERS, samples.nercluster(namespace=NAMESPACE, spec_=body))


async def _status(world: World) -> dict[str, Any]:
    return ((await world.nercluster()) or {}).get("status") or {}


async def _gateway_conf(api: ApiServer) -> str | None:
    configmap = await api.get(GATEWAY_CONFIGMAP)
    return None if configmap is None else str(configmap["data"]["nginx.conf"])


def _primary(conf: str | None, ports: dict[str, int]) -> str | None:
    """The region whose server is a primary (not ``backup``) server of the upstream group."""
    for region, port in ports.items():
        for line in (conf or "").splitlines():
            if f"server 127.0.0.1:{port} " in line and "backup" not in line:
                return region
    return None


async def _serving(world: World, region: str, ports: dict[str, int], gateway: ApiServer) -> bool:
    status = await _status(world)
    other = next(r for r in ports if r != region)
    return (
        status.get("activeRegion") == region
        and (status.get("failover") or {}).get("phase") == "Stable"
        and await _replicas(world, region) == 3
        and await _replicas(world, other) == 1
        and _primary(await _gateway_conf(gateway), ports) == region
    )


def _quiet_log(world: World) -> None:
    """The failover timer ticks ten times a second here; kopf's per-tick success lines are off."""
    for operator in world.operators:
        assert "Timer 'failover' succeeded" not in operator.log(), operator.log_path


# --- end to end through nginx, with the real model ---------------------------------------------


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[dict[str, Server]]:
    """``python -m ner_inference.server`` per region, in its own session (the drill's servers)."""
    one_thread = {"NER_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    found = {
        name: Server(name, free_port(), tmp_path, one_thread) for name in ("region-a", "region-b")
    }
    try:
        for server in found.values():
            server.start()
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            await asyncio.gather(*(server.wait_ready(client, 120) for server in found.values()))
        yield found
    finally:
        for server in found.values():
            server.signal(signal.SIGKILL)
            server.reap()


def _local_conf(conf: str, nercluster: dict[str, Any], prefix: Path, port: int) -> str:
    """The operator's configuration as this machine can run it: rendered again from the same
    NerCluster, checked to be byte-identical to the ConfigMap, then only listen address, file
    paths and worker user changed."""
    config = kubernetes_config(cluster_from_body(nercluster))
    assert render_nginx_conf(config) == conf, "the ConfigMap is not the NerCluster's rendering"
    local = render_nginx_conf(
        dataclasses.replace(
            config,
            listen=f"127.0.0.1:{port}",
            paths=Paths.in_prefix(prefix),
            # As root, nginx's workers would run as "nobody", who cannot enter pytest's tmp_path.
            user="root" if os.getuid() == 0 else None,
        )
    )
    ours, theirs = local.splitlines(), conf.splitlines()
    changed = {line.strip() for line in set(ours) ^ set(theirs)}
    assert all(line.startswith(LOCAL_DIRECTIVES) for line in changed), changed
    assert len(ours) - len(theirs) == (os.getuid() == 0)  # the user line, nothing else
    return local


@dataclasses.dataclass
class Client:
    """Keeps ``concurrency`` requests in flight through the gateway until stopped."""

    url: str
    concurrency: int = 3
    sent: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    _stop: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def run(self) -> None:
        # No retries of any kind: every error a user would see counts.
        async with httpx.AsyncClient(base_url=self.url, timeout=10, trust_env=False) as client:
            await asyncio.gather(*(self._worker(client) for _ in range(self.concurrency)))

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            self.sent += 1
            try:
                response = await client.post("/predict", json={"text": SENTENCE})
            except httpx.HTTPError as e:
                self.failures.append(f"{type(e).__name__}: {e}")
                continue
            if response.status_code != 200:
                self.failures.append(f"{response.status_code}: {response.text[:200]}")
                continue
            found = {(e["type"], e["span"]) for e in response.json()["entities"]}
            if found != ENTITIES:
                self.failures.append(f"wrong entities {found}")

    def stop(self) -> None:
        self._stop.set()


def _upstreams_after(server: nginx.Nginx, since: float) -> list[str]:
    """``$upstream_addr`` (every server tried, in order) of the requests that reached nginx
    after ``since`` (epoch seconds), from the access log (format ``gateway.LOG_FORMAT``)."""
    found = []
    for line in server.access_log():
        head, request, tail = line.split('"')
        fields = tail.split(None, 2)  # status, request time, upstream fields
        started = float(head.split()[0]) - float(fields[1])
        if request.startswith("POST /predict") and started > since:
            # Each upstream field lists one value per server tried, joined by ", ".
            groups: list[str] = []
            for token in fields[2].split(" "):
                if groups and groups[-1].endswith(","):
                    groups[-1] += " " + token
                else:
                    groups.append(token)
            found.append(groups[0])
    return found


async def test_region_killed_under_load_through_the_operators_nginx_loses_nothing(
    world: World, servers: dict[str, Server], tmp_path: Path
) -> None:
    # clientKeepaliveSeconds 0: the reload below cannot cut a kept-alive client request.
    world.operator()
    urls = {name: f"http://{server.address}" for name, server in servers.items()}
    ports = {name: server.port for name, server in servers.items()}
    await _create(world, urls, gateway={"clientKeepaliveSeconds": 0})
    await eventually(lambda: _serving(world, "region-a", ports, world.management), within=30)

    prefix, port = tmp_path / "nginx", free_port()
    conf = await _gateway_conf(world.management)
    assert conf is not None
    local = _local_conf(conf, await world.nercluster() or {}, prefix, port)
    gateway = nginx.Nginx(prefix, port)
    gateway.start(local)
    client = Client(f"http://127.0.0.1:{port}")
    load = asyncio.create_task(client.run())
    try:
        await asyncio.sleep(1)
        a, b = (f"127.0.0.1:{ports[r]}" for r in ("region-a", "region-b"))
        assert set(_upstreams_after(gateway, 0)) == {a}, "region A should serve everything"

        servers["region-a"].signal(signal.SIGKILL)
        servers["region-a"].reap()
        killed = time.time()
        await eventually(lambda: _serving(world, "region-b", ports, world.management), within=20)
        failover_s = time.time() - killed
        assert not client.failures, client.failures[:5]
        # Meanwhile nginx alone kept the traffic on region B (A refuses connections).
        assert set(_upstreams_after(gateway, killed + 0.5)) <= {b, f"{a}, {b}"}

        # What the gateway pods do when their ConfigMap changes: load the new configuration.
        conf = await _gateway_conf(world.management)
        nercluster = await world.nercluster() or {}
        assert nercluster["status"]["activeRegion"] == "region-b"
        gateway.reload(_local_conf(conf or "", nercluster, prefix, port))
        reloaded = time.time()
        # Longer than the configuration's fail_timeout (5 s): with region A still primary, nginx
        # would try it again (and log "A, B") once that passed.
        await asyncio.sleep(6)
    finally:
        client.stop()
        await load
        gateway.stop()

    assert not client.failures, f"{len(client.failures)} of {client.sent}: {client.failures[:5]}"
    after = _upstreams_after(gateway, reloaded + 0.2)
    # Region B is now the primary server: nothing even tries the dead region A any more.
    assert len(after) >= 20, after
    assert set(after) == {b}, sorted(set(after))
    assert client.sent >= 200, client.sent
    status = await _status(world)
    assert status["lastFailover"]["to"] == "region-b"
    await world.condition("FailedOver", "True")
    assert failover_s < 10, failover_s
    _quiet_log(world)
    print(f"requests {client.sent}, failed 0, operator failover {failover_s:.1f} s")


# --- an operator killed in the middle of a failover --------------------------------------------


@pytest.fixture
async def gateway_cluster(world: World) -> AsyncIterator[ApiServer]:
    """The gateway in a cluster of its own (``spec.gateway.kubeconfigSecret``), so that it alone
    can become unreachable."""
    api = ApiServer("gateway")
    await api.start()
    await world.put_secret("gateway-kubeconfig", api.kubeconfig())
    try:
        yield api
    finally:
        await api.close()


async def test_an_operator_killed_mid_failover_is_finished_by_the_next_one(
    world: World, endpoints: dict[str, Endpoint], gateway_cluster: ApiServer
) -> None:
    ports = {name: endpoint.port for name, endpoint in endpoints.items()}
    urls = {name: endpoint.url for name, endpoint in endpoints.items()}
    first = world.operator(name="first")
    await _create(world, urls, gateway={"kubeconfigSecret": {"name": "gateway-kubeconfig"}})
    await eventually(lambda: _serving(world, "region-a", ports, gateway_cluster), within=30)

    # The gateway's cluster goes away, then region A dies: the failover scales region B up and
    # records the switch, but cannot move the gateway. The operator is killed right there.
    await gateway_cluster.stop_serving()
    endpoints["region-a"].kill()

    async def half_way() -> dict[str, Any]:
        status = await _status(world)
        switch = (status.get("failover") or {}).get("switch") or {}
        assert switch.get("kind") == "failover", status.get("failover")
        assert switch.get("phase") == "Switching", switch
        assert await _replicas(world, "region-b") == 3
        return status

    status = await eventually(half_way, within=15)
    await asyncio.sleep(1)  # a few more rounds: it does not complete without the gateway
    first.stop(kill=True)
    nercluster = await world.nercluster()
    assert nercluster is not None
    status = nercluster["status"]
    assert status["failover"]["phase"] == "Switching", status["failover"]
    assert condition_of(nercluster, "FailedOver")["reason"] == "FailoverInProgress"
    assert "lastFailover" not in status
    reasons = await _event_reasons(world)
    assert reasons.count("FailoverStarted") == 1, reasons
    assert "FailoverCompleted" not in reasons

    # The gateway's cluster is back, its ConfigMap as the first operator left it: A primary.
    await gateway_cluster.start()
    assert _primary(await _gateway_conf(gateway_cluster), ports) == "region-a"

    world.operator(name="second")
    await eventually(lambda: _serving(world, "region-b", ports, gateway_cluster), within=20)
    await asyncio.sleep(2)  # and it stays done: no second switch, no switch back
    assert await _serving(world, "region-b", ports, gateway_cluster)
    status = await _status(world)
    assert status["failover"]["failovers"] == 1
    assert status["lastFailover"]["from"] == "region-a"
    assert status["lastFailover"]["to"] == "region-b"
    failed_over = await world.condition("FailedOver", "True")
    assert failed_over["reason"] == "ServingFromStandby"
    reasons = await _event_reasons(world)
    assert reasons.count("FailoverStarted") == 1, reasons
    assert reasons.count("FailoverCompleted") == 1, reasons
    _quiet_log(world)


# --- nerha.dev/switch-to: answered once, never replayed ----------------------------------------


async def _annotate(world: World, region: str) -> None:
    """What ``kubectl annotate nerc demo nerha.dev/switch-to=<region> --overwrite`` sends."""
    patch = {"metadata": {"annotations": {SWITCH_TO: region}}}
    await world.management.merge_patch(f"{NERCLUSTERS}/demo", patch)


async def _answered(world: World, result: str) -> dict[str, Any]:
    """The answer to the last switch-to request, once the request itself is gone."""
    nercluster = await world.nercluster() or {}
    assert SWITCH_TO not in (nercluster["metadata"].get("annotations") or {})
    request = ((nercluster.get("status") or {}).get("failover") or {}).get("request") or {}
    assert request.get("result") == result, request
    return dict(request)


async def _events(world: World, reason: str) -> list[str]:
    listing = await world.management.get(f"/api/v1/namespaces/{NAMESPACE}/events") or {}
    return [e["message"] for e in listing.get("items") or [] if e.get("reason") == reason]


async def test_a_switch_request_is_answered_once_and_never_replayed(
    world: World, endpoints: dict[str, Endpoint]
) -> None:
    ports = {name: endpoint.port for name, endpoint in endpoints.items()}
    urls = {name: endpoint.url for name, endpoint in endpoints.items()}
    world.operator()
    await _create(world, urls, failover={"failback": "manual"})
    await eventually(lambda: _serving(world, "region-a", ports, world.management), within=30)
    endpoints["region-a"].kill()
    await eventually(lambda: _serving(world, "region-b", ports, world.management), within=15)

    # Region A is back; manual failback: the user asks for it, the operator does it (capacity
    # first, then traffic) and answers the request: the annotation is gone, the answer recorded.
    endpoints["region-a"].start()

    async def a_healthy() -> bool:
        health = (await _status(world)).get("health") or {}
        return bool((health.get("region-a") or {}).get("healthy"))

    await eventually(a_healthy, within=15)
    await _annotate(world, "region-a")

    async def a_scaled_up() -> bool:
        return await _replicas(world, "region-a") == 3

    await eventually(a_scaled_up, within=10)
    await _pods_ready(world, "region-a", 3)
    await eventually(lambda: _serving(world, "region-a", ports, world.management), within=15)
    accepted = await eventually(lambda: _answered(world, "Accepted"), within=5)
    assert accepted["region"] == "region-a"
    assert "requested by nerha.dev/switch-to" in accepted["message"]
    assert len(await _events(world, "FailbackStarted")) == 1

    # Region A dies again: failover (once the switch interval since the failback has passed).
    endpoints["region-a"].kill()
    await eventually(lambda: _serving(world, "region-b", ports, world.management), within=20)

    # A request for a region that is down is refused, once, with the reason, and forgotten.
    await _annotate(world, "region-a")
    refused = await eventually(lambda: _answered(world, "Refused"), within=5)
    assert "switchover to region-a refused: it is not healthy" in refused["message"]
    assert len(await _events(world, "SwitchoverRefused")) == 1

    # Region A recovers. Well past successThreshold, cooldown (3 s) and the switch interval since
    # the failover (6 s), nothing moves: failback is manual, and no old request is replayed.
    endpoints["region-a"].start()
    await eventually(a_healthy, within=15)
    await asyncio.sleep(7)
    assert await _serving(world, "region-b", ports, world.management)
    assert len(await _events(world, "FailbackStarted")) == 1
    assert len(await _events(world, "SwitchoverRefused")) == 1
    manual = condition_of(await world.nercluster(), "FailedOver")
    assert manual["reason"] == "ServingFromStandby", manual

    # Asking for the region that already serves changes nothing, and says so.
    await _annotate(world, "region-b")
    await eventually(lambda: _answered(world, "NotNeeded"), within=5)
    assert await _serving(world, "region-b", ports, world.management)
    assert len(await _events(world, "SwitchoverNotNeeded")) == 1
    _quiet_log(world)
