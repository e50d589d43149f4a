"""examples/: every NerCluster passes the CRD (schema, defaults, CEL rules); the Secrets they
reference are there, valid for Kubernetes 1.31, and hold kubeconfigs a client can load."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from tests.install.manifests import EXAMPLES, Object, assert_valid, load_file, problems
from tests.support import crd

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def objects(kind: str) -> list[Object]:
    return [o for path in EXAMPLE_FILES for o in load_file(path) if o["kind"] == kind]


def test_the_examples_are_there() -> None:
    names = {p.name for p in EXAMPLE_FILES}
    assert {
        "minimal.yaml",
        "production.yaml",
        "region-a-kubeconfig.yaml",
        "region-b-kubeconfig.yaml",
    } <= names


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_is_valid(path: Any) -> None:
    assert_valid(load_file(path), path.name)


def test_the_production_example_is_what_it_says() -> None:
    (prod,) = [o for o in objects("NerCluster") if o["metadata"]["name"] == "ner-prod"]
    spec = crd.apply_defaults(crd.schema(), prod)["spec"]
    assert spec["mode"] == "activePassive"
    assert [r["role"] for r in spec["regions"]] == ["primary", "standby"]
    assert spec["autoscaling"]["enabled"] is True
    assert spec["failover"]["failback"] == "manual"


def test_every_referenced_secret_is_an_example_too() -> None:
    secrets = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in objects("Secret")}
    for cluster in objects("NerCluster"):
        spec = crd.apply_defaults(crd.schema(), cluster)["spec"]
        for region in spec["regions"]:
            ref = region["kubeconfigSecret"]
            secret = secrets.get((cluster["metadata"]["namespace"], ref["name"]))
            assert secret is not None, f"{cluster['metadata']['name']}: no Secret {ref['name']}"
            assert ref["key"] in secret["stringData"]


async def test_the_kubeconfigs_load_in_the_operators_client() -> None:
    for secret in objects("Secret"):
        kubeconfig = yaml.safe_load(secret["stringData"]["kubeconfig"])
        configuration = k8s_client.Configuration()
        await k8s_config.load_kube_config_from_dict(kubeconfig, client_configuration=configuration)
        name = secret["metadata"]["name"].removesuffix("-kubeconfig")
        assert configuration.host == f"https://{name}.example.com:6443"
        assert configuration.api_key["BearerToken"].startswith("Bearer REPLACE-")
        assert configuration.ssl_ca_cert  # verified TLS, never insecure-skip-tls-verify


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda s: s["regions"][1].update(role="primary"), "exactly one region"),
        (lambda s: s["regions"].pop(), "exactly 2 regions"),
        (lambda s: s["regions"][0].update(name="Region A"), "regions.0.name"),
        (lambda s: s["autoscaling"].update(minReplicas=30), "minReplicas"),
        (lambda s: s["failover"].update(failback="sometimes"), "failback"),
    ],
)
def test_a_broken_example_is_rejected(change: Any, complaint: str) -> None:
    """The validator the examples pass is strict enough to fail on real mistakes."""
    (prod,) = [o for o in objects("NerCluster") if o["metadata"]["name"] == "ner-prod"]
    broken = copy.deepcopy(prod)
    change(broken["spec"])
    found = problems(broken)
    assert any(complaint in p for p in found), found
