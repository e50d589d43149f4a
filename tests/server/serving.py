"""Helpers for tests that drive the server: in-process (TestClient) or as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

SENTENCE = "李克强总理在北京会见了德国总理默克尔。"


def wait_ready(client: TestClient | httpx.Client, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if client.get("/ready").status_code == 200:
                return
        except httpx.TransportError:  # not listening yet
            pass
        time.sleep(0.05)
    raise TimeoutError("the server did not become ready")


@contextmanager
def ready_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        wait_ready(client)
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    url: str

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]


@contextmanager
def server_process(**env: str) -> Iterator[RunningServer]:
    """``python -m ner_inference.server`` on a free loopback port (not yet ready)."""
    port = free_port()
    settings = {"NER_HOST": "127.0.0.1", "NER_PORT": str(port), **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "ner_inference.server"],
        env={**os.environ, **settings},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield RunningServer(process, f"http://127.0.0.1:{port}")
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def wait_listening(server: RunningServer, seconds: float = 60) -> None:
    """Until the port accepts connections (the model may still be loading)."""
    deadline = time.monotonic() + seconds
    host, port = server.url.removeprefix("http://").split(":")
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited: {server.process.communicate()[0]}")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.01)
    raise TimeoutError("the server did not listen")
