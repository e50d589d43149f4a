"""Three Kubernetes API emulators (management, region-a, region-b) and the operator as a process.

The operator runs as ``python -m ner_operator`` exactly as in production, against kubeconfig files
that point at emulators on free loopback ports. Tests talk to the emulators over HTTP too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import aiohttp.test_utils
import yaml

from tests.support.crd import load_crd
from tests.support.emulator import KubeEmulator

T = TypeVar("T")
NAMESPACE = "ner-system"  # the operator's and the NerClusters' namespace
REGIONS = ("region-a", "region-b")
NERCLUSTERS = f"/apis/nerha.dev/v1alpha1/namespaces/{NAMESPACE}/nerclusters"

# kopf's peering resource (kopf.dev/v1), as in kopf's documentation.
PEERING_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "kopfpeerings.kopf.dev"},
    "spec": {
        "group": "kopf.dev",
        "scope": "Namespaced",
        "names": {"kind": "KopfPeering", "plural": "kopfpeerings", "singular": "kopfpeering"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}

OBJECT_PATHS = {
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "Service": "/api/v1/namespaces/{ns}/services",
    "HorizontalPodAutoscaler": "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
    "PodDisruptionBudget": "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
}


class ApiServer:
    """One emulated cluster; can stop answering and come back on the same port with its state."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.emulator = KubeEmulator()
        self._server: aiohttp.test_utils.RawTestServer | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port: int | None = None

    async def start(self) -> None:
        if not self.emulator.active:
            await self.emulator.__aenter__()
        # aiohttp's server directly: kmock.Server also patches aiohttp's DNS resolver globally,
        # which breaks when three servers stop in any order but the reverse one.
        self._server = aiohttp.test_utils.RawTestServer(
            self.emulator, host="127.0.0.1", port=self.port
        )
        await self._server.start_server()
        self.port = self._server.port
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def stop_serving(self) -> None:
        """The API server goes away (connections refused) but keeps its objects."""
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def close(self) -> None:
        await self.stop_serving()
        if self._session is not None:
            await self._session.close()
        if self.emulator.active:
            await self.emulator.__aexit__(None, None, None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.name, "cluster": {"server": self.url}}],
            "users": [{"name": "test", "user": {"token": "test-token"}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": "test"}}],
            "current-context": self.name,
        }

    async def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        assert self._session is not None
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type}
        async with self._session.request(
            method, self.url + path, data=data, headers=headers
        ) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def get(self, path: str) -> dict[str, Any] | None:
        status, body = await self.request("GET", path)
        if status == 404:
            return None
        assert status == 200, (status, body)
        result: dict[str, Any] = body
        return result

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, result = await self.request("POST", path, body)
        assert status in (200, 201), (status, result)
        created: dict[str, Any] = result
        return created

    async def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        status, result = await self.request("PATCH", path, patch, "application/merge-patch+json")
        assert status == 200, (status, result)
        patched: dict[str, Any] = result
        return patched

    async def delete(self, path: str) -> int:
        status, _ = await self.request("DELETE", path)
        return status

    async def objects(self, kind: str, namespace: str = "ner") -> list[dict[str, Any]]:
        listing = await self.get(OBJECT_PATHS[kind].format(ns=namespace))
        return [] if listing is None else list(listing.get("items") or [])

    async def object(self, kind: str, name: str, namespace: str = "ner") -> dict[str, Any] | None:
        return await self.get(OBJECT_PATHS[kind].format(ns=namespace) + f"/{name}")


def secret(name: str, kubeconfig: dict[str, Any] | str) -> dict[str, Any]:
    text = kubeconfig if isinstance(kubeconfig, str) else yaml.safe_dump(kubeconfig)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "type": "Opaque",
        "data": {"kubeconfig": base64.b64encode(text.encode()).decode()},
    }


class World:
    """The management cluster with the CRDs and region Secrets, and two region clusters."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.management = ApiServer("management")
        self.regions = {name: ApiServer(name) for name in REGIONS}
        self.operators: list[Operator] = []

    async def start(self) -> None:
        for server in (self.management, *self.regions.values()):
            await server.start()
        self.kubeconfig_path = self.tmp / "management.yaml"
        self.kubeconfig_path.write_text(yaml.safe_dump(self.management.kubeconfig()))
        crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        await self.management.create(crds, load_crd())
        await self.management.create(crds, PEERING_CRD)
        await self.management.create("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        for name, region in self.regions.items():
            await self.put_secret(f"{name}-kubeconfig", region.kubeconfig())

    async def put_secret(self, name: str, kubeconfig: dict[str, Any] | str) -> None:
        path = f"/api/v1/namespaces/{NAMESPACE}/secrets"
        body = secret(name, kubeconfig)
        if await self.management.get(f"{path}/{name}") is None:
            await self.management.create(path, body)
        else:
            await self.management.merge_patch(f"{path}/{name}", {"data": body["data"]})

    async def close(self) -> None:
        for operator in self.operators:
            operator.terminate()
        for operator in self.operators:
            operator.stop()
        for server in (self.management, *self.regions.values()):
            await server.close()

    def operator(self, *args: str, name: str = "operator", resync: float = 1.0) -> Operator:
        operator = Operator(self.kubeconfig_path, self.tmp / f"{name}.log", args, resync)
        self.operators.append(operator)
        operator.start()
        return operator

    async def nercluster(self, name: str = "demo") -> dict[str, Any] | None:
        return await self.management.get(f"{NERCLUSTERS}/{name}")

    async def condition(self, type_: str, status: str, *, within: float = 5) -> dict[str, Any]:
        """The NerCluster's ``type_`` condition once it has ``status``. The failover timer sends
        its conditions in a JSON patch just after the merge patch of its other status fields, so
        a reader can see the new ``activeRegion`` a moment before the new FailedOver."""

        async def reached() -> dict[str, Any]:
            condition = condition_of(await self.nercluster(), type_)
            assert condition.get("status") == status, condition
            return condition

        return await eventually(reached, within=within)


def condition_of(nercluster: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    """The NerCluster's condition of ``type_``; empty if it has none."""
    conditions = ((nercluster or {}).get("status") or {}).get("conditions") or []
    found: dict[str, Any] = next((c for c in conditions if c["type"] == type_), {})
    return found


class Operator:
    """``python -m ner_operator`` in a subprocess; its log goes to a file the test can read."""

    def __init__(self, kubeconfig: Path, log: Path, args: tuple[str, ...], resync: float) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log
        self.args = args
        self.resync = resync
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "NER_OPERATOR_RETRY_SECONDS": "0.5",
            "NER_OPERATOR_REQUEST_TIMEOUT_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable,
            "-m",
            "ner_operator",
            "--kubeconfig",
            str(self.kubeconfig),
            "--namespace",
            NAMESPACE,
            "--resync-seconds",
            str(self.resync),
            "--metrics-port",
            "0",
            *(self.args or ("--standalone",)),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)

    def terminate(self) -> None:
        """SIGTERM, without waiting for the exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def eventually(
    check: Callable[[], Awaitable[T]], *, within: float = 20.0, interval: float = 0.1
) -> T:
    """Poll ``check`` until it returns a truthy value (returned) or raises nothing at timeout."""
    deadline = time.monotonic() + within
    last_error: BaseException | None = None
    while True:
        try:
            value = await check()
            if value:
                return value
            last_error = None
        except AssertionError as e:
            last_error = e
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {last_error or 'falsy result'}")
        await asyncio.sleep(interval)
