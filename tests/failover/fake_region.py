"""A small real HTTP server that plays a region: right, wrong, slow or broken answers.

Run in-process (``async with serve(mode) as url``) or as its own process
(``python -m tests.failover.fake_region --port N --name a``) so a test can SIGKILL it.
The right answer is the golden sentence's real entities, computed from the text.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn

GOLDEN = {"李克强": "PER", "北京": "LOC", "德国": "LOC", "默克尔": "PER"}
MODES = ("ok", "wrong", "offsets", "slow", "malformed", "not_ready", "error")


def entities(text: str, mode: str) -> list[dict[str, Any]]:
    found = []
    for span, kind in GOLDEN.items():
        start = text.find(span)
        if start < 0:
            continue
        answered = "ORG" if mode == "wrong" and span == "北京" else kind
        end = start + len(span)
        found.append({"type": answered, "start": start, "end": end, "span": span})
    if mode == "offsets":
        found[0] = {**found[0], "start": found[0]["start"] + 1, "end": found[0]["end"] + 1}
    return sorted(found, key=lambda e: e["start"])


class FakeRegion:
    """An ASGI app; ``mode`` can change while it serves."""

    def __init__(self, name: str = "fake", mode: str = "ok", delay: float = 5.0) -> None:
        self.name = name
        self.mode = mode
        self.delay = delay
        self.requests = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests += 1
        status, payload = await self._answer(scope["method"], scope["path"], body)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"x-region", self.name.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/ready":
            if self.mode == "not_ready":
                return 503, {"detail": "draining"}
            return 200, {"status": "ready", "model": f"fake@{self.name}"}
        if path == "/predict" and method == "POST":
            if self.mode == "slow":
                await asyncio.sleep(self.delay)
            if self.mode == "error":
                return 500, {"detail": "boom"}
            if self.mode == "malformed":
                return 200, b'{"entities": [{"type": "PER", "sta'
            text = json.loads(body)["text"]
            return 200, {"entities": entities(text, self.mode), "model": f"fake@{self.name}"}
        return 404, {"detail": "not found"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve(app: FakeRegion) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port in this event loop; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


ROOT = Path(__file__).resolve().parents[2]


class Endpoint:
    """A region's endpoint: a real HTTP server process (``python -m tests.failover.fake_region``)
    on a fixed loopback port; killable, restartable."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self, mode: str = "ok", *, delay: float | None = None) -> None:
        command = [sys.executable, "-m", "tests.failover.fake_region", "--name", self.name]
        command += ["--port", str(self.port), "--mode", mode]
        if delay is not None:
            command += ["--delay", str(delay)]
        self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL)

    def wait_listening(self, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, (
                f"endpoint {self.name} exited"
            )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"endpoint {self.name} does not listen")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="fake")
    parser.add_argument("--mode", default="ok", choices=MODES)
    parser.add_argument("--delay", type=float, default=5.0, help="seconds, in mode slow")
    args = parser.parse_args()
    app = FakeRegion(args.name, args.mode, args.delay)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
