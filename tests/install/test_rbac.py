"""Least privilege: the RBAC the chart and config/ grant is exactly what the code calls.

``ner_operator.rbac`` lists every API call the operator makes (the operator's tests keep that list
honest against the calls it really makes); here every shipped Role and ClusterRole must grant
those calls, and nothing more: no wildcard, no extra verb, no extra resource.
"""

from __future__ import annotations

from typing import Any

import helm_python
import pytest
from ner_operator.rbac import MANAGEMENT_API_CALLS, TARGET_API_CALLS, ApiCall

from tests.install.manifests import CHART, CONFIG, Object, by_kind, kustomize, load_all, one

Grant = tuple[str, str, str]  # (apiGroup, resource, verb)


def cluster_scoped(grant: Grant) -> bool:
    """Needs a ClusterRole: CRDs, and listing/watching all namespaces (a Role in namespace N
    can grant `get` on N itself, but not the collection)."""
    _, resource, verb = grant
    return resource == "customresourcedefinitions" or (
        resource == "namespaces" and verb in ("list", "watch")
    )


def grants(calls: tuple[ApiCall, ...]) -> set[Grant]:
    return {(c.group, c.resource, verb) for c in calls for verb in c.verbs}


def granted(role: Object) -> set[Grant]:
    result: set[Grant] = set()
    for rule in role["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), f"wildcard in {rule}"
                    result.add((group, resource, verb))
    return result


MANAGEMENT = grants(MANAGEMENT_API_CALLS)
MANAGEMENT_NAMESPACED = {g for g in MANAGEMENT if not cluster_scoped(g)}
MANAGEMENT_CLUSTER = {g for g in MANAGEMENT if cluster_scoped(g)}
# In a target the operator creates its namespace only when it is missing. The shipped Roles live
# in that namespace (it exists), and creating a namespace would need a ClusterRole: only `get`.
TARGET = {g for g in grants(TARGET_API_CALLS) if g != ("", "namespaces", "create")}


def chart(values: dict[str, Any] | None = None) -> list[Object]:
    rendered = helm_python.Chart.load(CHART).render(
        values or {}, name="ner-operator", namespace="ner-system"
    )
    return [o for path, text in rendered.items() if path.endswith(".yaml") for o in load_all(text)]


def test_the_code_lists_its_calls() -> None:
    assert ("nerha.dev", "nerclusters", "watch") in MANAGEMENT
    assert ("", "secrets", "get") in MANAGEMENT
    assert ("apps", "deployments", "create") in TARGET
    # Every cluster-scoped call is a read.
    assert {verb for _, _, verb in MANAGEMENT_CLUSTER} <= {"get", "list", "watch"}


def test_the_charts_role_is_exactly_the_operators_calls() -> None:
    objects = chart()
    assert granted(one(objects, "Role")) == MANAGEMENT_NAMESPACED | TARGET
    assert granted(one(objects, "ClusterRole")) == MANAGEMENT_CLUSTER


def test_without_a_local_gateway_the_role_shrinks_to_the_management_calls() -> None:
    objects = chart({"rbac": {"gatewayInOperatorNamespace": False}})
    assert granted(one(objects, "Role")) == MANAGEMENT_NAMESPACED


def test_rbac_can_be_left_to_the_cluster_admin() -> None:
    objects = chart({"rbac": {"create": False}})
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


@pytest.mark.parametrize("directory", ["rbac", "default", "overlays/production"])
def test_kustomize_rbac_equals_the_charts(directory: str) -> None:
    objects = kustomize(CONFIG / directory)
    assert granted(one(objects, "Role")) == MANAGEMENT_NAMESPACED | TARGET
    assert granted(one(objects, "ClusterRole")) == MANAGEMENT_CLUSTER


def test_kustomize_binds_the_operators_account_in_its_namespace() -> None:
    objects = kustomize(CONFIG / "default")
    account = one(objects, "ServiceAccount")["metadata"]
    (deployment,) = by_kind(objects, "Deployment")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["name"]
    for binding in [*by_kind(objects, "RoleBinding"), *by_kind(objects, "ClusterRoleBinding")]:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
        ]


def test_the_regional_role_is_exactly_the_operators_calls_in_a_region() -> None:
    objects = kustomize(CONFIG / "regional-rbac")
    role = one(objects, "Role")
    assert granted(role) == TARGET
    assert not by_kind(objects, "ClusterRole")
    account = one(objects, "ServiceAccount")["metadata"]
    (binding,) = by_kind(objects, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    token = one(objects, "Secret")
    assert token["type"] == "kubernetes.io/service-account-token"
    assert (
        token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == (account["name"])
    )
