"""Each HTTP response leaves the process in one write: head and body together.

uvicorn writes a response's status line and headers, then its body, as two socket writes. A
process killed between the two (SIGKILL, OOM) leaves a peer holding a complete head with a
``200`` and a ``Content-Length`` but no body. nginx forwards a response head to the client as
soon as it has it and cannot retry on another server after that, so the client sees a truncated
``200`` (measured by the failover drill: 1 request in 50,000). Written in one piece, a response
is either entirely out or not at all, and nginx retries the latter on the backup.

The transport wrapper below holds what uvicorn writes during one turn of the event loop and
hands it to the socket as one buffer at the end of that turn. uvicorn writes a response's head
and body in the same turn (``send`` does not yield between them unless the socket is full).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneWriteTransport:
    """Forwards everything to ``transport``; coalesces the writes of one event-loop turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if self._pending and not self._transport.is_closing():
            self._transport.write(b"".join(self._pending))
        self._pending.clear()

    def close(self) -> None:
        self.flush()  # a `Connection: close` response is written, then the socket closed
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through :class:`OneWriteTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped: Any = OneWriteTransport(transport, self.loop)
        super().connection_made(wrapped)
