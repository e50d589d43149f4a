"""A real nginx running the rendered configuration in front of two real upstream processes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ner_operator.gateway import GatewayConfig, Paths, Timings, render_nginx_conf

from tests.failover import nginx
from tests.failover.fake_region import Endpoint, free_port

pytestmark = pytest.mark.integration
TEXT = {"text": "李克强总理在北京会见了德国总理默克尔。"}


@pytest.fixture
def upstreams() -> Iterator[tuple[Endpoint, Endpoint]]:
    a, b = Endpoint("a"), Endpoint("b")
    for upstream in (a, b):
        upstream.start()
        upstream.wait_listening()
    try:
        yield a, b
    finally:
        a.kill()
        b.kill()


def _conf(
    prefix: Path,
    port: int,
    a: Endpoint,
    b: Endpoint,
    active: str,
    *,
    timings: Timings | None = None,
) -> str:
    config = GatewayConfig.active_passive(
        "drill",
        {"a": [a.address], "b": [b.address]},
        active,
        listen=f"127.0.0.1:{port}",
        paths=Paths.in_prefix(prefix),
        # As root nginx's workers would run as "nobody", who cannot enter pytest's tmp_path.
        user="root" if os.getuid() == 0 else None,
        timings=timings or Timings(),
    )
    return render_nginx_conf(config)


# A keep-alive connection that the server closes between two requests fails the request
# the client was sending on it, with no response at all (RFC 9112, section 9.3.1).
CLOSED_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


async def _send(
    client: httpx.AsyncClient, n: int, concurrency: int = 8, retries: list[str] | None = None
) -> list[str]:
    """POST /predict n times; returns the region that answered each (or the error).

    With ``retries``, a request whose connection was closed without a response is sent
    once more on a fresh connection, as HTTP/1.1 clients do for requests that are safe to
    repeat (``/predict`` has no side effects); each retry is recorded there."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> str:
        async with semaphore:
            try:
                try:
                    response = await client.post("/predict", json=TEXT)
                except CLOSED_CONNECTION as e:
                    if retries is None:
                        raise
                    retries.append(type(e).__name__)
                    response = await client.post("/predict", json=TEXT)
            except httpx.HTTPError as e:
                return f"error {type(e).__name__}"
            if response.status_code != 200 or len(response.json()["entities"]) != 4:
                return f"status {response.status_code}"
            return response.headers["x-region"]

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def test_passive_failover_and_reload_lose_no_request(
    tmp_path: Path, upstreams: tuple[Endpoint, Endpoint]
) -> None:
    a, b = upstreams
    port = free_port()
    server = nginx.Nginx(tmp_path, port)
    server.start(_conf(tmp_path, port, a, b, active="a"))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert (await client.get("/healthz")).text == "ok\n"
            assert set(await _send(client, 50)) == {"a"}

            # The primary dies with POSTs in flight (it answers after 1 s, killed after 0.3 s):
            # each was already sent, so only non_idempotent lets nginx retry it on the backup.
            a.kill()
            a.start("slow", delay=1)
            a.wait_listening()
            in_flight = asyncio.create_task(_send(client, 8))
            await asyncio.sleep(0.3)
            a.kill()
            assert set(await in_flight) == {"b"}, "in-flight requests were lost"
            after_kill = await _send(client, 200)
            assert set(after_kill) == {"b"}, f"errors after the primary died: {after_kill}"
            log = server.access_log()
            retried = [line for line in log if f"{a.address}, {b.address}" in line]
            assert len(retried) >= 8, "in-flight POSTs were not retried on the backup"
            assert all('"POST /predict' in line and " 200 " in line for line in retried)

            # The operator's durable switch: b primary, a backup, reloaded under load. Old
            # workers finish the requests they hold, then close their client connections
            # without `Connection: close` (trac.nginx.org ticket 1022): a request sent on such
            # a connection at that instant gets no response, so the client repeats it, once.
            a.start()
            a.wait_listening()
            retries: list[str] = []
            load = asyncio.create_task(_send(client, 400, concurrency=16, retries=retries))
            await asyncio.sleep(0.2)
            server.reload(_conf(tmp_path, port, a, b, active="b"))
            during = await load
            assert all(r in ("a", "b") for r in during), f"errors during reload: {during}"
            assert len(retries) <= 16, f"more than one retry per connection: {retries}"
            await asyncio.sleep(0.5)  # old workers finish their requests and exit
            assert set(await _send(client, 100)) == {"b"}
    finally:
        server.stop()


async def test_without_client_keepalive_a_reload_under_load_cuts_nothing(
    tmp_path: Path, upstreams: tuple[Endpoint, Endpoint]
) -> None:
    """``clientKeepaliveSeconds: 0``: every response announces `Connection: close`, so the old
    workers of a reload hold no idle client connection to cut; no client retry needed."""
    a, b = upstreams
    port = free_port()
    timings = Timings(client_keepalive_timeout=0)
    server = nginx.Nginx(tmp_path, port)
    server.start(_conf(tmp_path, port, a, b, active="a", timings=timings))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            response = await client.post("/predict", json=TEXT)
            assert response.headers["connection"] == "close"
            for active in ("b", "a", "b"):
                load = asyncio.create_task(_send(client, 300, concurrency=16))
                await asyncio.sleep(0.2)
                server.reload(_conf(tmp_path, port, a, b, active=active, timings=timings))
                during = await load
                assert all(r in ("a", "b") for r in during), f"errors during reload: {during}"
    finally:
        server.stop()
