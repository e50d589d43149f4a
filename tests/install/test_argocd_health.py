"""config/argocd/health.lua under a real Lua 5.1 interpreter (Argo CD's gopher-lua is 5.1).

The samples and expectations live in Argo CD's own test format (health_test.yaml + testdata/),
so the same files also work with Argo CD's resource-customization tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from tests.install.manifests import CONFIG, kustomize

ARGOCD = CONFIG / "argocd"
SCRIPT = (ARGOCD / "health.lua").read_text()
CASES: list[dict[str, Any]] = yaml.safe_load((ARGOCD / "health_test.yaml").read_text())["tests"]


def to_lua(runtime: Any, value: Any) -> Any:
    """JSON-like data as Argo CD hands it to Lua: objects and arrays become tables, null is nil."""
    if isinstance(value, dict):
        return runtime.table_from(
            {k: to_lua(runtime, v) for k, v in value.items() if v is not None}
        )
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, v) for v in value])
    return value


def health(obj: dict[str, Any], script: str = SCRIPT) -> dict[str, str]:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = to_lua(runtime, obj)
    result = runtime.execute(script)
    return {"status": str(result["status"]), "message": str(result["message"])}


@pytest.mark.parametrize("case", CASES, ids=lambda c: Path(c["inputPath"]).stem)
def test_health_of_each_sample(case: dict[str, Any]) -> None:
    obj = yaml.safe_load((ARGOCD / case["inputPath"]).read_text())
    assert health(obj) == case["healthStatus"]


def test_samples_cover_every_state() -> None:
    statuses = {c["healthStatus"]["status"] for c in CASES}
    assert statuses == {"Healthy", "Progressing", "Degraded"}
    stems = {Path(c["inputPath"]).stem for c in CASES}
    assert {"no-status", "failed-over", "healthy"} <= stems
    assert {p.name for p in (ARGOCD / "testdata").glob("*.yaml")} == {
        Path(c["inputPath"]).name for c in CASES
    }


def test_a_failed_over_cluster_is_never_healthy_even_if_ready() -> None:
    obj = yaml.safe_load((ARGOCD / "testdata" / "failed-over.yaml").read_text())
    obj["status"].pop("lastFailover")
    obj["status"]["phase"] = "Ready"  # a writer that only set the FailedOver condition
    result = health(obj)
    assert result["status"] == "Degraded"
    assert result["message"] == (
        "Failed over to region-b: region-b serves since 2025-06-01T11:00:04Z"
    )


def test_the_configmap_carries_the_script_under_argos_key() -> None:
    (configmap,) = kustomize(ARGOCD)
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"] == {
        "name": "argocd-cm",
        "namespace": "argocd",
        "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
    }
    assert configmap["data"] == {"resource.customizations.health.nerha.dev_NerCluster": SCRIPT}


def test_a_broken_script_fails_the_test() -> None:
    # The harness really runs Lua: a syntax error surfaces instead of passing silently.
    with pytest.raises(lua51.LuaSyntaxError):
        health({"metadata": {}}, "hs = {status = ")
