"""uvicorn's real httptools protocol and the real app, fed bytes, writing through a transport
that records every write: each response must leave in exactly one write."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from ner_inference.server.app import create_app
from ner_inference.server.one_write import OneWriteHttpToolsProtocol
from ner_inference.server.settings import Settings
from uvicorn.server import ServerState


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 7860)}.get(
            name, default
        )

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def _exchange(request: bytes) -> RecordingTransport:
    config = uvicorn.Config(
        create_app(Settings()), http=OneWriteHttpToolsProtocol, log_level="error"
    )
    config.load()
    protocol = OneWriteHttpToolsProtocol(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(200):
        await asyncio.sleep(0.01)
        if transport.writes:
            break
    await asyncio.sleep(0.05)  # anything written later would be a second write
    return transport


async def test_a_response_leaves_in_one_write_with_head_and_body() -> None:
    transport = await _exchange(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 ")
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    assert int(headers[b"content-length"]) == len(body) > 0
    assert not transport.closed


async def test_a_closing_response_is_written_before_the_socket_closes() -> None:
    transport = await _exchange(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"}")
    assert transport.closed
