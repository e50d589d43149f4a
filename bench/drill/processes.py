"""The regions: real inference server processes (``python -m ner_inference.server``) on loopback.

Every process gets its own session so a region loss can SIGKILL exactly the processes this drill
started, and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """One inference server process on a fixed port; restarts keep the port (nginx names it)."""

    region: str
    port: int
    log_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = self.log_dir / f"{self.region}-{self.port}-{self.starts}.log"
        env = {**os.environ, **self.env, "NER_HOST": HOST, "NER_PORT": str(self.port)}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ner_inference.server"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    async def wait_exit(self, within: float) -> int | None:
        """The exit code, or None if it is still running after ``within`` seconds."""
        deadline = time.monotonic() + within
        while self.process is not None and time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.05)
        return None if self.process is None else self.process.poll()

    async def wait_ready(self, client: httpx.AsyncClient, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"server {self.address} exited; see {self.log_dir}")
            try:
                if (await client.get(f"http://{self.address}/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise TimeoutError(f"server {self.address} not ready after {within:.0f} s")

    def reap(self, within: float = 15.0) -> None:
        """Wait for the exit after a SIGTERM, SIGKILL after ``within`` s: no process is left."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=5)


@dataclass
class Region:
    name: str
    servers: list[Server] = field(default_factory=list)
    up: bool = False  # every server answered /ready since the last loss

    @property
    def addresses(self) -> list[str]:
        return [s.address for s in self.servers]

    def signal(self, sig: signal.Signals) -> None:
        for server in self.servers:
            server.signal(sig)

    def start(self) -> None:
        for server in self.servers:
            server.start()

    async def wait_ready(self, within: float = 120.0) -> None:
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            await asyncio.gather(*(s.wait_ready(client, within) for s in self.servers))
        self.up = True

    async def wait_exit(self, within: float) -> None:
        codes = await asyncio.gather(*(s.wait_exit(within) for s in self.servers))
        for server, code in zip(self.servers, codes, strict=True):
            if code is None:  # a drain that never ends is a bug worth seeing, but not a hang
                server.signal(signal.SIGKILL)
                await server.wait_exit(5)


def stop_all(regions: list[Region]) -> None:
    """SIGTERM every server at once (each drains for NER_DRAIN_SECONDS), then reap them all."""
    servers = [server for region in regions for server in region.servers]
    for server in servers:
        server.signal(signal.SIGTERM)
    for server in servers:
        server.reap()


def make_region(name: str, count: int, log_dir: Path, env: dict[str, str] | None = None) -> Region:
    return Region(name, [Server(name, free_port(), log_dir, dict(env or {})) for _ in range(count)])
