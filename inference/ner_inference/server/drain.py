"""Graceful shutdown for Kubernetes: on SIGTERM, go unready, serve on, then exit.

Kubernetes sends SIGTERM and removes the pod from its Service's endpoints at about the
same time, and the endpoint change takes a few seconds to reach every node. A server
that stops accepting at once (uvicorn's own behaviour) refuses the requests still
routed to it in that window. So the first SIGTERM only turns ``/ready`` to 503 and
marks responses ``Connection: close`` (clients reconnect, to another pod); after
``drain_seconds`` uvicorn's normal graceful shutdown finishes the requests in flight.
A second SIGTERM, or Ctrl+C, exits without waiting for the drain period.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Protocol

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("ner_inference.server")


class Drainable(Protocol):
    draining: bool

    def begin_drain(self) -> None: ...


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, serving: Drainable, drain_seconds: float) -> None:
        super().__init__(config)
        self.serving = serving
        self.drain_seconds = drain_seconds

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM:  # Ctrl+C: uvicorn's own graceful stop, no drain period
            super().handle_exit(sig, frame)
            return
        if self.serving.draining or self.drain_seconds <= 0:  # a second SIGTERM: stop now
            self.serving.begin_drain()
            self.should_exit = True
            return
        self.serving.begin_drain()
        log.info("SIGTERM: not ready; serving for %.1f s more, then exiting", self.drain_seconds)
        # A thread, not the event loop: this runs inside a signal handler, where scheduling
        # loop callbacks is not safe; uvicorn polls should_exit every 0.1 s.
        timer = threading.Timer(self.drain_seconds, self._drained)
        timer.daemon = True
        timer.start()

    def _drained(self) -> None:
        log.info("drain period over: finishing requests in flight and exiting")
        self.should_exit = True


class CloseWhenDraining:
    """While draining, every response says ``Connection: close``, so keep-alive clients
    open their next connection to a pod that is staying."""

    def __init__(self, app: ASGIApp, serving: Drainable) -> None:
        self.app = app
        self.serving = serving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.serving.draining:
            await self.app(scope, receive, send)
            return

        async def send_with_close(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_close)
