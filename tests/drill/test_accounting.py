"""The drill's witnesses must be able to see a loss: the client's verdicts and the log parser."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bench.drill import accesslog
from bench.drill.load import Progress, run_load, validate

TEXT = "李克强总理在北京会见了德国总理默克尔。"
GOOD = json.dumps(
    {"entities": [{"type": "PER", "start": 0, "end": 3, "span": "李克强"}], "model": "builtin@x"}
).encode()

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)


async def _outcomes(handler: Handler, requests: int = 4) -> list[str]:
    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        progress = Progress(requests)
        outcomes = await run_load(
            "127.0.0.1", port, [TEXT], progress, concurrency=2, request_timeout=2
        )
    assert progress.done == requests
    return [o.error for o in outcomes]


def _response(body: bytes, status: str = "200 OK", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return f"HTTP/1.1 {status}\r\nContent-Length: {size}\r\n\r\n".encode() + body


async def test_whole_valid_answers_count_as_ok() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await _read_request(reader)
            writer.write(_response(GOOD))
            await writer.drain()

    assert await _outcomes(handler) == ["", "", "", ""]


async def test_a_cut_200_is_lost_as_truncated() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_response(GOOD, length=len(GOOD))[: -len(GOOD) // 2])  # killed mid-body
        await writer.drain()

    assert await _outcomes(handler) == ["truncated"] * 4


async def test_errors_and_wrong_bodies_are_lost() -> None:
    bodies = iter(
        [
            _response(b'{"detail": "bad gateway"}', status="502 Bad Gateway"),
            _response(b'{"entities": [], "model": "x"'),  # invalid JSON, framing intact
            _response(
                json.dumps(
                    {
                        "entities": [{"type": "PER", "start": 0, "end": 2, "span": "李克强"}],
                        "model": "m",
                    }
                ).encode()
            ),
            b"",  # the server closes without answering
        ]
    )

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await _read_request(reader)
            answer = next(bodies)
            if not answer:
                return
            writer.write(answer)
            await writer.drain()

    errors = await _outcomes(handler)
    assert sorted(errors) == sorted(["http-502", "invalid-json", "bad-entity", "connection-closed"])


def test_validate_checks_spans_against_the_sent_text() -> None:
    assert validate(TEXT, GOOD) == ""
    assert validate("王小明在北京", GOOD) == "bad-entity"
    assert validate(TEXT, b'{"entities": []}') == "bad-shape"


FORMAT = (
    '$remote_addr [$time_local] "$request" $status $msec $upstream_addr $upstream_status '
    "$request_time"
)


def test_access_log_names_the_server_that_answered_after_retries(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        '127.0.0.1 [01/Jan/2026:00:00:00 +0000] "POST /predict HTTP/1.1" 200 1700000000.123 '
        "127.0.0.1:1001, 127.0.0.1:1002, 127.0.0.1:2001 502, 502, 200 0.050\n"
        '127.0.0.1 [01/Jan/2026:00:00:00 +0000] "POST /predict HTTP/1.1" 502 1700000000.200 '
        "127.0.0.1:1001 502 0.001\n",
        encoding="utf-8",
    )
    first, second = accesslog.parse(log, FORMAT)
    assert first.answered_by == "127.0.0.1:2001" and first.retried and first.status == 200
    assert first.upstream_statuses == ("502", "502", "200")
    assert first.msec == pytest.approx(1700000000.123)
    assert second.answered_by == "127.0.0.1:1001" and not second.retried and second.status == 502


def test_a_log_format_without_the_needed_fields_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\$upstream_addr"):
        accesslog.compile_format("$remote_addr $msec $status $request_time $upstream_status")


def test_the_gateways_own_log_format_parses_with_the_answering_try(tmp_path: Path) -> None:
    from ner_operator.gateway import LOG_FORMAT

    log = tmp_path / "access.log"
    log.write_text(
        '1700000000.500 127.0.0.1 "POST /predict HTTP/1.1" 200 0.120 '
        "127.0.0.1:1001, 127.0.0.1:2001 502, 200 0.001, 0.100 0.000, 0.000\n"
        # A keep-alive connection that was already dead: no connect time for the first try.
        '1700000000.600 127.0.0.1 "POST /predict HTTP/1.1" 200 0.121 '
        "127.0.0.1:1001, 127.0.0.1:2001 502, 200 0.000, 0.121 -, 0.000\n",
        encoding="utf-8",
    )
    entry, dead_keepalive = accesslog.parse(log, LOG_FORMAT)
    assert dead_keepalive.answered_by == "127.0.0.1:2001" and dead_keepalive.retried
    assert entry.answered_by == "127.0.0.1:2001" and entry.request == "POST /predict HTTP/1.1"
    assert entry.last_try_started == pytest.approx(1700000000.400)
