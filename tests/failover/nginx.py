"""A real nginx (Debian package) for the tests: ``nginx -t`` and a foreground master in a prefix."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest


def binary() -> str:
    """Path of nginx; skips the test where nginx is truly absent, fails in CI (which has it)."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing on CI: .ci/run must apt-get install nginx")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return found


def check(conf: str, prefix: Path) -> None:
    """``nginx -t -c <file> -p <prefix>``; fails the test with nginx's own message."""
    prefix.mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(conf, encoding="utf-8")
    result = subprocess.run(
        [binary(), "-t", "-c", str(path), "-p", f"{prefix}/", "-e", str(prefix / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, f"nginx -t rejected the configuration:\n{result.stderr}\n{conf}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Nginx:
    """nginx running ``conf`` in the foreground (``daemon off`` is in the rendered config)."""

    def __init__(self, prefix: Path, port: int) -> None:
        self.prefix = prefix
        self.port = port
        self.conf_path = prefix / "nginx.conf"
        self.process: subprocess.Popen[bytes] | None = None

    def _command(self, *extra: str) -> list[str]:
        return [
            binary(),
            "-c",
            str(self.conf_path),
            "-p",
            f"{self.prefix}/",
            "-e",
            str(self.prefix / "error.log"),
            *extra,
        ]

    def start(self, conf: str) -> None:
        check(conf, self.prefix)
        self.process = subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.error_log()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"nginx does not listen on {self.port}: {self.error_log()}")

    def reload(self, conf: str) -> None:
        """Write ``conf`` and ``nginx -s reload`` (the master finds itself by its pid file)."""
        check(conf, self.prefix)
        subprocess.run(self._command("-s", "reload"), check=True, timeout=10, capture_output=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self) -> list[str]:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []
