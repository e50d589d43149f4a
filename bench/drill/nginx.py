"""A real nginx (the Debian package) in a private prefix, running a configuration given as text.

The drill never writes nginx configuration itself: the text comes from the operator's gateway
renderer (see ``bench.drill.gateway``). This module only runs it: foreground master in its own
session, pid file and error log inside the prefix, reload on SIGHUP, stop on SIGQUIT.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def _has_main_directive(conf: str, name: str) -> bool:
    return re.search(rf"^\s*{name}\s", conf, flags=re.MULTILINE) is not None


class Nginx:
    def __init__(self, prefix: Path, conf: str, listen: tuple[str, int]) -> None:
        self.prefix = prefix
        self.conf_path = prefix / "nginx.conf"
        self.error_log = prefix / "error.log"
        self.stdout = prefix / "nginx.stdout"
        self.listen = listen
        self.process: subprocess.Popen[bytes] | None = None
        self.write(conf)

    def write(self, conf: str) -> None:
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(conf, encoding="utf-8")

    def _command(self, *extra: str) -> list[str]:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        conf = self.conf_path.read_text(encoding="utf-8")
        globals_ = []
        if not _has_main_directive(conf, "daemon"):
            globals_.append("daemon off;")
        if not _has_main_directive(conf, "pid"):
            globals_.append(f"pid {self.prefix / 'nginx.pid'};")
        command = [binary, "-p", f"{self.prefix}/", "-c", str(self.conf_path)]
        command += ["-e", str(self.error_log)]
        if globals_:
            command += ["-g", " ".join(globals_)]
        return [*command, *extra]

    def test(self) -> None:
        """``nginx -t``: a configuration nginx rejects fails here with nginx's own message."""
        result = subprocess.run(self._command("-t"), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"nginx -t rejected the gateway configuration:\n{result.stderr}")

    def start(self, timeout: float = 10.0) -> None:
        self.test()
        with self.stdout.open("ab") as out:
            self.process = subprocess.Popen(
                self._command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log.read_text(errors='replace')}")
            try:
                with socket.create_connection(self.listen, timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"nginx does not listen on {self.listen} after {timeout} s")

    def reload(self, conf: str) -> None:
        self.write(conf)
        self.test()
        if self.process is not None:
            self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: master and workers
            self.process.wait(timeout=5)
