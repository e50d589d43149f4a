"""crds/nerclusters.yaml rejects bad specs on its own and agrees with ner_operator.spec."""

from __future__ import annotations

from typing import Any

import pytest
from ner_operator import API_GROUP, API_VERSION, KIND, PLURAL
from ner_operator.spec import SpecError, parse_spec

from tests.support import crd, samples


def _regions(*changes: dict[str, Any]) -> list[dict[str, Any]]:
    regions = samples.spec()["regions"]
    return [{**region, **change} for region, change in zip(regions, changes, strict=True)]


INVALID: dict[str, dict[str, Any]] = {
    "two primaries": samples.spec(regions=_regions({}, {"role": "primary"})),
    "no primary": samples.spec(regions=_regions({"role": "standby"}, {})),
    "duplicate names": samples.spec(regions=_regions({}, {"name": "region-a"})),
    "activePassive with one region": samples.spec(regions=samples.spec()["regions"][:1]),
    "warm above full": samples.spec(regions=_regions({"replicas": 1, "warmReplicas": 2}, {})),
    "autoscaling min above max": samples.spec(
        autoscaling={"enabled": True, "minReplicas": 5, "maxReplicas": 3}
    ),
    "unknown mode": samples.spec(mode="activeStandby"),
    "unknown backend": samples.spec(backend="bert"),
    "zero replicas": samples.spec(regions=_regions({"replicas": 0}, {})),
    "region name not a DNS label": samples.spec(regions=_regions({"name": "Region_A"}, {})),
    "region without kubeconfigSecret": samples.spec(
        regions=_regions({"kubeconfigSecret": None}, {})
    ),
    "raner without modelVolume": samples.spec(backend="raner"),
    "region named gateway": samples.spec(regions=_regions({}, {"name": "gateway"})),
    "probe period 0": samples.spec(probes={"readiness": {"periodSeconds": 0}}),
    "unknown failback": samples.spec(failover={"failback": "sometimes"}),
    "endpoint not a URL": samples.spec(regions=_regions({"endpoint": "ner-a"}, {})),
}


def _without_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value


def test_crd_names_match_the_operator() -> None:
    definition = crd.load_crd()
    assert definition["apiVersion"] == "apiextensions.k8s.io/v1"
    assert definition["metadata"]["name"] == f"{PLURAL}.{API_GROUP}"
    names = definition["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == (KIND, PLURAL, ["nerc"])
    assert definition["spec"]["scope"] == "Namespaced"
    (version,) = definition["spec"]["versions"]
    assert version["name"] == API_VERSION
    assert version["subresources"] == {"status": {}}


def test_printer_columns_tell_the_story() -> None:
    (version,) = crd.load_crd()["spec"]["versions"]
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Active"] == ".status.activeRegion"
    assert columns["Phase"] == ".status.phase"
    assert columns["Ready"] == ".status.readySummary"
    assert columns["Age"] == ".metadata.creationTimestamp"


def test_every_field_is_described() -> None:
    undescribed: list[str] = []

    def walk(node: dict[str, Any], path: str) -> None:
        for name, prop in (node.get("properties") or {}).items():
            if name != "metadata" and not prop.get("description"):
                undescribed.append(f"{path}.{name}")
            walk(prop, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}{{}}")

    walk(crd.schema(), "")
    assert undescribed == []


def test_the_example_is_valid() -> None:
    assert crd.violations(samples.nercluster()) == []


def test_active_active_allows_more_regions() -> None:
    regions = _regions({}, {})
    regions.append({**regions[1], "name": "region-c"})
    assert (
        crd.violations(samples.nercluster(spec_=samples.spec(mode="activeActive", regions=regions)))
        == []
    )


@pytest.mark.parametrize("case", sorted(INVALID))
def test_the_crd_rejects_invalid_specs(case: str) -> None:
    assert crd.violations(samples.nercluster(spec_=_without_nones(INVALID[case]))) != []


@pytest.mark.parametrize("case", sorted(INVALID))
def test_the_operator_rejects_what_the_crd_rejects(case: str) -> None:
    with pytest.raises(SpecError, match="invalid spec"):
        parse_spec(_without_nones(INVALID[case]))


def test_cel_messages_name_the_problem() -> None:
    problems = crd.violations(samples.nercluster(spec_=INVALID["two primaries"]))
    assert problems == ["self.spec: exactly one region must have role: primary"]
    problems = crd.violations(samples.nercluster(spec_=INVALID["warm above full"]))
    assert problems == ["self.spec.regions[0]: replicas must be >= warmReplicas"]


def test_long_names_are_rejected() -> None:
    body = samples.nercluster(name="n" * 56)
    assert crd.violations(body) == [
        "self: metadata.name must be at most 55 characters: objects are named <name>-gateway "
        "(63 max)"
    ]


def test_crd_defaults_equal_the_operator_defaults() -> None:
    minimal = {
        "regions": [
            {"name": "a", "role": "primary", "kubeconfigSecret": {"name": "a"}},
            {"name": "b", "role": "standby", "kubeconfigSecret": {"name": "b"}},
        ]
    }
    defaulted = crd.apply_defaults(crd.schema()["properties"]["spec"], minimal)
    assert defaulted["probes"]["startup"]["failureThreshold"] == 60  # the CRD filled it
    assert parse_spec(defaulted) == parse_spec(minimal)
