"""ner_operator.rbac lists every API call the operator really makes (for least-privilege RBAC)."""

from __future__ import annotations

from typing import Any

import pytest
from ner_operator.rbac import MANAGEMENT_API_CALLS, TARGET_API_CALLS, ApiCall

from tests.support import samples
from tests.support.harness import NAMESPACE, NERCLUSTERS, ApiServer, World, eventually

pytestmark = pytest.mark.integration
VERBS = {"list": "list", "watch": "watch", "fetch": "get", "create": "create"}
VERBS |= {"update": "patch", "delete": "delete"}


def _calls(server: ApiServer) -> set[tuple[str, str, str]]:
    calls = set()
    for request in list(server.emulator):
        if request.resource is None or request.action is None or not request.resource.plural:
            continue  # discovery: allowed to every authenticated user
        resource = request.resource.plural or ""
        if request.subresource:
            resource = f"{resource}/{request.subresource}"
        calls.add((request.resource.group or "", resource, VERBS[request.action.name.lower()]))
    return calls


def _allowed(rules: tuple[ApiCall, ...]) -> set[tuple[str, str, str]]:
    return {(r.group, r.resource, verb) for r in rules for verb in r.verbs}


async def test_rbac_lists_cover_a_whole_lifecycle(world: World) -> None:
    world.operator()
    await world.management.create(NERCLUSTERS, samples.nercluster(namespace=NAMESPACE))
    region = world.regions["region-a"]

    async def created() -> Any:
        return await region.object("HorizontalPodAutoscaler", "demo")

    await eventually(created)
    await world.management.merge_patch(
        f"{NERCLUSTERS}/demo", {"spec": {"autoscaling": {"enabled": False}}}
    )

    async def pruned() -> bool:
        return await region.object("HorizontalPodAutoscaler", "demo") is None

    await eventually(pruned)
    await world.management.delete(f"{NERCLUSTERS}/demo")

    async def gone() -> bool:
        return await world.nercluster() is None and not await region.objects("Deployment")

    await eventually(gone)

    management = _calls(world.management)
    # The test's own calls: setting up CRDs, namespace, Secrets and the NerCluster.
    management -= {
        ("apiextensions.k8s.io", "customresourcedefinitions", "create"),
        ("", "namespaces", "create"),
        ("", "secrets", "create"),
        ("", "secrets", "patch"),
        ("nerha.dev", "nerclusters", "create"),
        ("nerha.dev", "nerclusters", "delete"),
    }
    assert management - _allowed(MANAGEMENT_API_CALLS) == set()
    assert ("nerha.dev", "nerclusters/status", "patch") in management  # status via /status
    assert ("", "secrets", "get") in management
    for name in ("region-a", "region-b"):
        calls = _calls(world.regions[name])
        assert calls - _allowed(TARGET_API_CALLS) == set(), name
        assert ("apps", "deployments", "delete") in calls
