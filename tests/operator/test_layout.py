"""The pure builders: every object is valid Kubernetes 1.31 and carries what the issue asks."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from ner_operator import labels, layout

from tests.operator.conftest import UID, make_cluster
from tests.support import samples


def _by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


def _primary_deployment(spec: dict[str, Any]) -> dict[str, Any]:
    return _by_kind(layout.desired_objects(make_cluster(spec))["region-a"])["Deployment"]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


SPECS = {
    "default": samples.spec(),
    "raner, no HPA, activeActive": samples.spec(
        backend="raner",
        modelVolume={"claimName": "raner-weights"},
        autoscaling={"enabled": False},
        mode="activeActive",
        service={"type": "ClusterIP", "port": 8080},
    ),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_object_is_valid_kubernetes_1_31(name: str) -> None:
    desired = layout.desired_objects(make_cluster(SPECS[name]))
    assert sorted(desired) == ["region-a", "region-b"]
    for objects in desired.values():
        for obj in objects:
            kubernetes_validate.validate(obj, "1.31.0", strict=True)


def test_each_region_gets_deployment_service_hpa_pdb_with_owner_labels() -> None:
    desired = layout.desired_objects(make_cluster())
    for region, objects in desired.items():
        kinds = _by_kind(objects)
        assert sorted(kinds) == [
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Service",
        ]
        namespace = "ner"
        for obj in objects:
            assert obj["metadata"]["name"] == "demo"
            assert obj["metadata"]["namespace"] == namespace
            assert obj["metadata"]["labels"] == {
                "app.kubernetes.io/name": "ner",
                "app.kubernetes.io/instance": "demo",
                "app.kubernetes.io/managed-by": "ner-operator",
                "nerha.dev/cluster-uid": UID,
                "nerha.dev/region": region,
            }
        pod_labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
        assert pod_labels[labels.CLUSTER_UID] == UID


def test_active_passive_runs_full_capacity_only_in_the_active_region() -> None:
    desired = layout.desired_objects(make_cluster())
    primary, standby = _by_kind(desired["region-a"]), _by_kind(desired["region-b"])
    assert primary["Deployment"]["spec"]["replicas"] == 3
    assert primary["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 3
    assert primary["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 10
    assert standby["Deployment"]["spec"]["replicas"] == 1
    assert standby["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 1


def test_failed_over_status_moves_the_capacity() -> None:
    desired = layout.desired_objects(make_cluster(activeRegion="region-b"))
    assert _by_kind(desired["region-a"])["Deployment"]["spec"]["replicas"] == 1
    assert _by_kind(desired["region-b"])["Deployment"]["spec"]["replicas"] == 3


def test_unknown_active_region_falls_back_to_the_primary() -> None:
    desired = layout.desired_objects(make_cluster(activeRegion="region-z"))
    assert _by_kind(desired["region-a"])["Deployment"]["spec"]["replicas"] == 3


def test_active_active_runs_full_capacity_everywhere() -> None:
    desired = layout.desired_objects(make_cluster(samples.spec(mode="activeActive")))
    assert [_by_kind(o)["Deployment"]["spec"]["replicas"] for o in desired.values()] == [3, 3]


def test_probes_hit_the_server_endpoints_with_the_spec_timings() -> None:
    spec = samples.spec(probes={"startup": {"periodSeconds": 1, "failureThreshold": 90}})
    container = _container(_primary_deployment(spec))
    assert container["ports"] == [{"name": "http", "containerPort": 7860, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["startupProbe"]["periodSeconds"] == 1
    assert container["startupProbe"]["failureThreshold"] == 90
    assert container["readinessProbe"]["periodSeconds"] == 2  # the default survives


def test_drain_settings_match_the_server() -> None:
    spec = samples.spec(drainSeconds=20)
    deployment = _by_kind(layout.desired_objects(make_cluster(spec))["region-a"])["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["NER_DRAIN_SECONDS"] == "20"
    assert env["NER_BACKEND"] == "builtin"
    prestop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    # The kubelet waits preStop + the server's drain and some margin before SIGKILL.
    assert pod["terminationGracePeriodSeconds"] > prestop + 20


def test_pods_run_non_root_with_a_read_only_root_and_a_writable_tmp() -> None:
    deployment = _by_kind(layout.desired_objects(make_cluster())["region-a"])["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
    spread = pod["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    assert pod["affinity"]["podAntiAffinity"]


def test_resources_come_from_the_spec() -> None:
    spec = samples.spec(resources={"requests": {"cpu": "500m", "memory": "512Mi"}})
    container = _container(_primary_deployment(spec))
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }


def test_raner_mounts_the_weights_read_only() -> None:
    spec = samples.spec(backend="raner", modelVolume={"claimName": "w", "mountPath": "/m"})
    deployment = _by_kind(layout.desired_objects(make_cluster(spec))["region-a"])["Deployment"]
    container = _container(deployment)
    env = {e["name"]: e["value"] for e in container["env"]}
    assert (env["NER_BACKEND"], env["NER_MODEL_PATH"]) == ("raner", "/m")
    assert {"name": "model", "mountPath": "/m", "readOnly": True} in container["volumeMounts"]
    claim = {"name": "model", "persistentVolumeClaim": {"claimName": "w", "readOnly": True}}
    assert claim in deployment["spec"]["template"]["spec"]["volumes"]


def test_service_targets_7860_and_selects_only_this_clusters_pods() -> None:
    spec = samples.spec(service={"type": "ClusterIP", "port": 8080})
    objects = _by_kind(layout.desired_objects(make_cluster(spec))["region-a"])
    svc = objects["Service"]["spec"]
    assert svc["type"] == "ClusterIP"
    assert svc["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert svc["selector"] == objects["Deployment"]["spec"]["selector"]["matchLabels"]
    assert svc["selector"]["app.kubernetes.io/instance"] == "demo"


def test_no_hpa_when_autoscaling_is_off() -> None:
    spec = samples.spec(autoscaling={"enabled": False})
    objects = _by_kind(layout.desired_objects(make_cluster(spec))["region-a"])
    assert "HorizontalPodAutoscaler" not in objects
    assert objects["Deployment"]["spec"]["replicas"] == 3


def test_pdb_lets_a_single_warm_replica_be_drained() -> None:
    objects = _by_kind(layout.desired_objects(make_cluster())["region-b"])
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in objects["PodDisruptionBudget"]["spec"]


def test_builders_are_pure() -> None:
    cluster = make_cluster()
    assert layout.desired_objects(cluster) == layout.desired_objects(cluster)
