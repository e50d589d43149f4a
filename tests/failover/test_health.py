"""Health probes against real local HTTP servers."""

from __future__ import annotations

import json

import httpx
import pytest
from ner_operator.health import DEFAULT_GOLDEN, check_answer, probe_region

from tests.failover.fake_region import FakeRegion, free_port, serve


async def test_correct_answer_is_healthy() -> None:
    app = FakeRegion()
    async with serve(app) as url, httpx.AsyncClient() as client:
        result = await probe_region(client, "region-a", url)
    assert result.healthy
    assert result.data_plane_ok
    assert result.control_plane_ok
    assert result.latency_ms is not None
    assert result.latency_ms > 0
    assert "correct" in result.reason
    assert app.requests == 2  # /ready and the golden /predict
    status = result.to_status()
    assert status["healthy"] is True
    assert status["checkedAt"].endswith("Z")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("wrong", "北京 found as ORG instead of LOC"),
        ("offsets", "is not text["),
        ("malformed", "not JSON"),
        ("error", "POST /predict answered 500"),
        ("not_ready", "GET /ready answered 503"),
    ],
)
async def test_wrong_or_broken_answers_are_unhealthy_with_the_reason(
    mode: str, reason: str
) -> None:
    async with serve(FakeRegion(mode=mode)) as url, httpx.AsyncClient() as client:
        result = await probe_region(client, "region-a", url)
    assert not result.healthy
    assert not result.data_plane_ok
    assert reason in result.reason


async def test_slow_answer_is_unhealthy_after_the_timeout() -> None:
    async with serve(FakeRegion(mode="slow", delay=3)) as url, httpx.AsyncClient() as client:
        result = await probe_region(client, "region-a", url, timeout_s=0.3)
    assert not result.data_plane_ok
    assert "timed out after 0.3 s" in result.reason


async def test_connection_refused_is_unhealthy() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with httpx.AsyncClient() as client:
        result = await probe_region(client, "region-a", url, timeout_s=1)
    assert not result.data_plane_ok
    assert "ConnectError" in result.reason


async def test_control_plane_problem_alone_keeps_the_data_plane_ok() -> None:
    async with serve(FakeRegion()) as url, httpx.AsyncClient() as client:
        result = await probe_region(client, "region-a", url, api_reachable=False)
    assert result.data_plane_ok
    assert not result.control_plane_ok
    assert not result.healthy
    assert "region API unreachable" in result.reason
    assert "Degraded" in result.reason


async def test_region_without_endpoint_cannot_be_probed() -> None:
    async with httpx.AsyncClient() as client:
        result = await probe_region(client, "region-a", None)
    assert not result.data_plane_ok
    assert "no endpoint" in result.reason


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[]", "not a JSON object"),
        (b'{"model": "m"}', "no 'entities' list"),
        (b'{"entities": []}', "no 'model' string"),
        (b'{"entities": [], "model": "m"}', "missing PER 李克强"),
        (
            b'{"entities": [{"type": "XYZ", "start": 0, "end": 3, "span": "x"}], "model": "m"}',
            "XYZ",
        ),
        (
            b'{"entities": [{"type": "PER", "start": 0, "end": 99, "span": "x"}], "model": "m"}',
            "outside the text",
        ),
        (b'{"entities": [{"type": "PER", "start": "0"}], "model": "m"}', "integer start/end"),
    ],
)
def test_check_answer_names_the_problem(body: bytes, problem: str) -> None:
    found = check_answer(DEFAULT_GOLDEN, body)
    assert found is not None
    assert problem in found


def test_extra_entities_are_accepted() -> None:
    text = DEFAULT_GOLDEN.text
    entities = [
        {"type": e.type, "start": text.index(e.span), "end": text.index(e.span) + len(e.span)}
        for e in DEFAULT_GOLDEN.entities
    ]
    entities = [{**e, "span": text[e["start"] : e["end"]]} for e in entities]
    entities.append({"type": "ORG", "start": 2, "end": 4, "span": text[2:4]})
    assert check_answer(DEFAULT_GOLDEN, json.dumps({"entities": entities, "model": "m"})) is None
