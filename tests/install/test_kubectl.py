"""The ``kubectl`` experience against the Kubernetes API emulator: apply the examples, list them by
short name, read the printer columns, see the operator's Events in ``describe``.

The emulator serves no OpenAPI (hence ``--validate=false``) and no server-side Table, so kubectl
prints ``get -o wide`` with its default columns; the CRD's printer columns are checked by handing
their JSONPaths to kubectl's own ``custom-columns`` printer instead.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from tests.install.manifests import EXAMPLES
from tests.support.crd import load_crd
from tests.support.harness import ApiServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]
NAMESPACE = "ner-system"
NERCLUSTERS = f"/apis/nerha.dev/v1alpha1/namespaces/{NAMESPACE}/nerclusters"


class Kubectl:
    def __init__(self, server: ApiServer, tmp: Path) -> None:
        self.kubeconfig = tmp / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump(server.kubeconfig()))
        self.cache = tmp / "kube-cache"

    async def __call__(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "kubectl",
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache}",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
        return out.decode()


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    api = ApiServer("management")
    await api.start()
    try:
        status, _ = await api.request(
            "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", load_crd()
        )
        assert status in (200, 201)
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        status, _ = await api.request("POST", "/api/v1/namespaces", namespace)
        assert status in (200, 201)
        yield api
    finally:
        await api.close()


async def test_apply_the_examples_and_list_them(server: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl(server, tmp_path)
    files = [f"--filename={p}" for p in sorted(EXAMPLES.glob("*.yaml"))]
    applied = await kubectl("apply", "--validate=false", *files)
    assert "nercluster.nerha.dev/ner created" in applied
    assert "nercluster.nerha.dev/ner-prod created" in applied
    assert "secret/region-a-kubeconfig created" in applied
    # Applying again is a no-op (GitOps tools do this on every sync).
    again = await kubectl("apply", "--validate=false", *files)
    assert "nercluster.nerha.dev/ner unchanged" in again
    listing = await kubectl("get", "nerc", "--namespace", NAMESPACE, "-o", "wide")
    names = [line.split()[0] for line in listing.splitlines()[1:]]
    assert names == ["ner", "ner-prod"]
    stored = await server.get(f"{NERCLUSTERS}/ner-prod")
    assert stored is not None and stored["spec"]["failover"]["failback"] == "manual"


async def test_printer_columns_show_the_status(server: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl(server, tmp_path)
    await kubectl("apply", "--validate=false", f"--filename={EXAMPLES / 'minimal.yaml'}")
    status = {
        "phase": "FailedOver",
        "activeRegion": "region-b",
        "readySummary": "3/4",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "AllRegionsReady", "message": "ok"},
            {
                "type": "Degraded",
                "status": "True",
                "reason": "Unreachable",
                "message": "region-a unreachable",
            },
        ],
    }
    await server.merge_patch(f"{NERCLUSTERS}/ner/status", {"status": status})
    version = load_crd()["spec"]["versions"][0]
    columns = [c for c in version["additionalPrinterColumns"] if c["type"] != "date"]
    spec = ",".join(f"{c['name'].upper()}:{c['jsonPath']}" for c in columns)
    table = await kubectl("get", "nerc", "ner", "-n", NAMESPACE, "-o", f"custom-columns={spec}")
    header, row = table.splitlines()
    assert header.split()[:4] == ["ACTIVE", "PHASE", "READY", "MODE"]
    assert row.split(None, 4) == [
        "region-b",
        "FailedOver",
        "3/4",
        "<none>",  # spec.mode is defaulted by a real API server; the emulator stores it as sent
        "region-a unreachable",
    ]


async def test_describe_shows_the_operators_events(server: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl(server, tmp_path)
    await kubectl("apply", "--validate=false", f"--filename={EXAMPLES / 'minimal.yaml'}")
    stored = await server.get(f"{NERCLUSTERS}/ner")
    assert stored is not None
    # An Event as kopf posts it for a handler result.
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "ner.failover", "namespace": NAMESPACE},
        "involvedObject": {
            "apiVersion": "nerha.dev/v1alpha1",
            "kind": "NerCluster",
            "name": "ner",
            "namespace": NAMESPACE,
            "uid": stored["metadata"]["uid"],
        },
        "reason": "FailedOver",
        "message": "region-a failed 3 probes: switched to region-b",
        "type": "Warning",
        "source": {"component": "kopf"},
        "count": 1,
        "firstTimestamp": "2025-06-01T11:00:04Z",
        "lastTimestamp": "2025-06-01T11:00:04Z",
    }
    await server.create(f"/api/v1/namespaces/{NAMESPACE}/events", event)
    described = await kubectl("describe", "nerc", "ner", "-n", NAMESPACE)
    events = described.split("Events:")[1]
    assert "FailedOver" in events
    assert "region-a failed 3 probes: switched to region-b" in events
