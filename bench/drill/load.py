"""A closed-loop HTTP/1.1 load generator that judges every answer from the client's side.

``ab`` cannot look at bodies, and ``wrk``'s Lua hooks never see requests that fail on the socket,
so neither can account for each request. This client keeps ``concurrency`` keep-alive connections,
sends each request exactly once (no client retries: a retry would hide a loss) and records, per
request, its wall-clock start, latency, status and whether the body was complete, valid JSON with
the entity shape ``POST /predict`` promises for *that* text.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

ENTITY_TYPES = frozenset({"PER", "LOC", "ORG"})
HEADER_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    index: int
    started: float  # wall clock (time.time()), comparable with nginx's $msec
    latency: float  # seconds
    status: int  # 0: no HTTP status was read
    error: str  # "" when the request succeeded; else what went wrong

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(slots=True)
class Progress:
    """Shared between the workers, the progress printer and the drill's schedule."""

    total: int
    issued: int = 0
    done: int = 0
    failed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    _waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)

    def record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.done += 1
        self.failed += not outcome.ok
        for item in [w for w in self._waiters if w[0] <= self.done]:
            self._waiters.remove(item)
            if not item[1].done():
                item[1].set_result(None)

    async def reached(self, count: int) -> None:
        """Return once ``count`` requests have completed (or at once if they have)."""
        if self.done >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((count, future))
        await future


class BadResponseError(Exception):
    """The bytes on the wire were not a well-formed HTTP/1.1 response."""


class TruncatedError(Exception):
    """The status line and headers arrived, the whole body did not: the cut a SIGKILL can make."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def validate(text: str, body: bytes) -> str:
    """'' if ``body`` is the complete answer for ``text``; otherwise why not."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return "invalid-json"
    if not isinstance(data, dict) or not isinstance(data.get("model"), str):
        return "bad-shape"
    entities = data.get("entities")
    if not isinstance(entities, list):
        return "bad-shape"
    for e in entities:
        if not isinstance(e, dict) or e.get("type") not in ENTITY_TYPES:
            return "bad-entity"
        start, end = e.get("start"), e.get("end")
        if (
            not isinstance(start, int)
            or not isinstance(end, int)
            or text[start:end] != e.get("span")
        ):
            return "bad-entity"
    return ""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise BadResponseError(lines[0][:80])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    status = int(parts[1])
    try:
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:  # delimited by the end of the connection: a cut looks like the end; JSON checks it
            body = await reader.read()
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise TruncatedError(status) from exc
    return status, headers, body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent to us
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _worker(
    *,
    host: str,
    port: int,
    texts: Sequence[str],
    progress: Progress,
    request_timeout: float,
    path: str,
) -> None:
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while progress.issued < progress.total:
        index = progress.issued
        progress.issued += 1
        text = texts[index % len(texts)]
        payload = _request(host, port, path, json.dumps({"text": text}).encode())
        started, clock = time.time(), time.perf_counter()
        status, error = 0, ""
        try:
            async with asyncio.timeout(request_timeout):
                if conn is None:
                    conn = await asyncio.open_connection(host, port, limit=HEADER_LIMIT)
                reader, writer = conn
                writer.write(payload)
                status, headers, body = await read_response(reader)
            error = f"http-{status}" if status != 200 else validate(text, body)
            if headers.get("connection", "").lower() == "close":
                _close(conn)
                conn = None
        except TimeoutError:
            error = "timeout"
        except TruncatedError as exc:
            status, error = exc.status, "truncated"
        except asyncio.IncompleteReadError:
            error = "connection-closed"
        except (OSError, asyncio.LimitOverrunError, BadResponseError, ValueError) as exc:
            error = type(exc).__name__
        if error and conn is not None:
            _close(conn)  # the connection's state is unknown after a failure
            conn = None
        progress.record(Outcome(index, started, time.perf_counter() - clock, status, error))
    if conn is not None:
        _close(conn)


def _close(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    conn[1].close()


async def run_load(
    host: str,
    port: int,
    texts: Sequence[str],
    progress: Progress,
    *,
    concurrency: int,
    request_timeout: float = 30.0,
    path: str = "/predict",
) -> list[Outcome]:
    """Send ``progress.total`` requests over ``concurrency`` connections, in index order."""
    workers = [
        _worker(
            host=host,
            port=port,
            texts=texts,
            progress=progress,
            request_timeout=request_timeout,
            path=path,
        )
        for _ in range(max(1, concurrency))
    ]
    await asyncio.gather(*workers)
    return sorted(progress.outcomes, key=lambda o: o.index)
