"""Why each fix in tests/support/emulator.py exists: plain kmock 0.8 vs the fixed emulator.

Each test shows the plain emulator's deviation from kube-apiserver and the fixed behaviour that
kopf or kubernetes_asyncio relies on. If kmock fixes one upstream, its test says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import aiohttp.test_utils
import kmock
import pytest

from tests.support import emulator
from tests.support.crd import load_crd
from tests.support.emulator import KubeEmulator

pytestmark = pytest.mark.integration
DEPLOYMENTS = "/apis/apps/v1/namespaces/ner/deployments"
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}


class Api:
    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url, self.session = url, session

    async def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any, str]:
        async with self.session.request(
            method, self.url + path, json=body, headers={"Content-Type": content_type}
        ) as response:
            ctype = response.headers.get("Content-Type", "")
            if "watch=true" in path:
                line = await response.content.readline()
                return response.status, line, ctype
            return response.status, await response.json(content_type=None), ctype


async def _serve(emulator: kmock.KubernetesEmulator) -> AsyncIterator[Api]:
    emulator.resources.load_bundled()
    async with emulator:
        server = aiohttp.test_utils.RawTestServer(emulator, host="127.0.0.1")
        await server.start_server()
        async with aiohttp.ClientSession() as session:
            yield Api(f"http://127.0.0.1:{server.port}", session)
        await server.close()


@pytest.fixture
async def plain() -> AsyncIterator[Api]:
    async for api in _serve(kmock.KubernetesEmulator()):
        yield api


@pytest.fixture
async def fixed() -> AsyncIterator[Api]:
    async for api in _serve(KubeEmulator()):
        yield api


async def test_1_create_assigns_server_metadata_and_honours_generate_name(
    plain: Api, fixed: Api
) -> None:
    _, created, _ = await plain.call("POST", DEPLOYMENTS, DEPLOYMENT)
    assert "uid" not in created["metadata"]  # kopf keys its memory by uid
    status, created, _ = await fixed.call("POST", DEPLOYMENTS, DEPLOYMENT)
    meta = created["metadata"]
    assert status in (200, 201)
    assert {"uid", "resourceVersion", "creationTimestamp"} <= set(meta)
    assert (meta["namespace"], meta["generation"]) == ("ner", 1)
    body = {**DEPLOYMENT, "metadata": {"generateName": "d-"}}
    _, created, _ = await fixed.call("POST", DEPLOYMENTS, body)
    assert created["metadata"]["name"].startswith("d-") and len(created["metadata"]["name"]) > 2


async def test_2_writes_bump_resource_version_and_spec_changes_bump_generation(
    plain: Api, fixed: Api
) -> None:
    await plain.call("POST", DEPLOYMENTS, DEPLOYMENT)
    _, patched, _ = await plain.call(
        "PATCH", f"{DEPLOYMENTS}/d", {"spec": {"replicas": 2}}, "application/merge-patch+json"
    )
    assert "generation" not in patched["metadata"]  # observedGeneration would mean nothing
    _, created, _ = await fixed.call("POST", DEPLOYMENTS, DEPLOYMENT)
    merge = "application/merge-patch+json"
    _, spec_patched, _ = await fixed.call(
        "PATCH", f"{DEPLOYMENTS}/d", {"spec": {"replicas": 2}}, merge
    )
    _, status_patched, _ = await fixed.call(
        "PATCH", f"{DEPLOYMENTS}/d", {"status": {"readyReplicas": 2}}, merge
    )
    versions = [
        int(o["metadata"]["resourceVersion"]) for o in (created, spec_patched, status_patched)
    ]
    assert versions == sorted(set(versions))
    assert [o["metadata"]["generation"] for o in (created, spec_patched, status_patched)] == [
        1,
        2,
        2,
    ]


async def test_3_failed_json_patch_test_op_is_422(plain: Api, fixed: Api) -> None:
    patch = [{"op": "test", "path": "/metadata/name", "value": "other"}]
    await plain.call("POST", DEPLOYMENTS, DEPLOYMENT)
    status, _, _ = await plain.call(
        "PATCH", f"{DEPLOYMENTS}/d", patch, "application/json-patch+json"
    )
    assert status != 422  # kopf would not recognise the conflict
    await fixed.call("POST", DEPLOYMENTS, DEPLOYMENT)
    status, body, _ = await fixed.call(
        "PATCH", f"{DEPLOYMENTS}/d", patch, "application/json-patch+json"
    )
    assert status == 422, body


async def test_4_core_discovery_says_group_version_v1(plain: Api, fixed: Api) -> None:
    _, body, _ = await plain.call("GET", "/api/v1")
    assert body["groupVersion"] != "v1"
    _, body, _ = await fixed.call("GET", "/api/v1")
    assert body["groupVersion"] == "v1"


async def test_5_namespaces_are_a_cluster_scoped_resource(fixed: Api) -> None:
    # The fix replaces kmock's path parser process-wide, so the plain one is called directly.
    with pytest.raises(ValueError, match="not enough values"):
        emulator._parse_path_of_kmock("/api/v1/namespaces")
    assert emulator._parse_path_of_kmock("/api/v1/namespaces/ner").plural is None
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ner"}}
    status, _, _ = await fixed.call("POST", "/api/v1/namespaces", namespace)
    assert status in (200, 201)
    status, body, _ = await fixed.call("GET", "/api/v1/namespaces/ner")
    assert (status, body["metadata"]["name"]) == (200, "ner")
    _, listing, _ = await fixed.call("GET", "/api/v1/namespaces")
    assert [n["metadata"]["name"] for n in listing["items"]] == ["ner"]
    status, _, _ = await fixed.call("GET", "/api/v1/namespaces/absent")
    assert status == 404


async def test_6_lists_have_kind_and_resource_version(plain: Api, fixed: Api) -> None:
    _, listing, _ = await plain.call("GET", DEPLOYMENTS)
    assert "kind" not in listing
    await fixed.call("POST", DEPLOYMENTS, DEPLOYMENT)
    _, listing, _ = await fixed.call("GET", DEPLOYMENTS)
    assert (listing["kind"], listing["apiVersion"]) == ("DeploymentList", "apps/v1")
    assert listing["metadata"]["resourceVersion"].isdigit()


async def test_7_watch_streams_are_json(plain: Api, fixed: Api) -> None:
    await plain.call("POST", DEPLOYMENTS, DEPLOYMENT)
    _, _, ctype = await plain.call("GET", f"{DEPLOYMENTS}?watch=true")
    assert not ctype.startswith("application/json")
    await fixed.call("POST", DEPLOYMENTS, DEPLOYMENT)
    status, line, ctype = await fixed.call("GET", f"{DEPLOYMENTS}?watch=true")
    assert status == 200 and ctype.startswith("application/json")
    assert b'"ADDED"' in line


async def test_8_a_crd_registers_its_resource_and_status_subresource(
    plain: Api, fixed: Api
) -> None:
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    await plain.call("POST", crds, load_crd())
    _, body, _ = await plain.call("GET", "/apis/nerha.dev/v1alpha1")
    assert "nerclusters/status" not in {r["name"] for r in (body or {}).get("resources", [])}
    await fixed.call("POST", crds, load_crd())
    _, body, _ = await fixed.call("GET", "/apis/nerha.dev/v1alpha1")
    names = {r["name"]: r for r in body["resources"]}
    assert names["nerclusters"]["kind"] == "NerCluster"
    assert names["nerclusters"]["namespaced"] is True
    assert "nerclusters/status" in names  # kopf writes status through /status only then
