"""Pure builders: a NerCluster's spec in, the Kubernetes objects of every target out.

No I/O here. Every object carries the labels of ``labels.owned`` so it can be found (and deleted)
by its NerCluster's UID in any region.
"""

from __future__ import annotations

import importlib
from typing import Any

from ner_operator import labels
from ner_operator.cluster import GATEWAY_TARGET, Cluster
from ner_operator.replicas import ReplicaPlan, plan
from ner_operator.spec import Probe, Region

Object = dict[str, Any]

HTTP_PORT = 7860  # the inference server's port (fixed by the image)
RUN_AS_USER = 10001
# preStop sleeps while kube-proxy and load balancers drop the pod from their endpoints: the pod
# is still serving during that window, so no request reaches a closed socket.
PRESTOP_SECONDS = 5
# After the server's drain (NER_DRAIN_SECONDS) it still has to finish the last responses and exit.
EXIT_MARGIN_SECONDS = 5


def termination_grace_seconds(drain_seconds: int) -> int:
    """preStop sleep + the server's SIGTERM drain + a margin: the kubelet must not SIGKILL first."""
    return PRESTOP_SECONDS + drain_seconds + EXIT_MARGIN_SECONDS


def desired_objects(cluster: Cluster) -> dict[str, list[Object]]:
    """Every object of every target, keyed by target name (the regions and the gateway)."""
    desired = {region.name: region_objects(cluster, region) for region in cluster.spec.regions}
    if GATEWAY_TARGET in cluster.targets():
        desired[GATEWAY_TARGET] = gateway_objects(cluster)
    return desired


def gateway_objects(cluster: Cluster) -> list[Object]:
    """The gateway target's objects: built by ``ner_operator.gateway.gateway_objects(cluster)``.

    Seam for the failover engineer (they own ``gateway.py``). Every object must carry
    ``labels.owned(cluster.name, cluster.uid, GATEWAY_TARGET)`` (pruning and deletion find objects
    by those labels) and be of a kind listed in ``regions.KINDS``/``regions.OWNED_KINDS``.
    """
    module = importlib.import_module("ner_operator.gateway")
    objects: list[Object] = module.gateway_objects(cluster)
    return objects


def region_objects(cluster: Cluster, region: Region) -> list[Object]:
    replicas = plan(cluster, region)
    objects = [
        deployment(cluster, region, replicas),
        service(cluster, region),
        pod_disruption_budget(cluster, region),
    ]
    if cluster.spec.autoscaling.enabled:
        objects.append(horizontal_pod_autoscaler(cluster, region, replicas))
    return objects


def _metadata(cluster: Cluster, region: Region, **extra: Any) -> Object:
    return {
        "name": cluster.name,
        "namespace": region.namespace,
        "labels": labels.owned(cluster.name, cluster.uid, region.name),
        **extra,
    }


def _probe(path: str, timings: Probe) -> Object:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": timings.period_seconds,
        "timeoutSeconds": timings.timeout_seconds,
        "failureThreshold": timings.failure_threshold,
    }


def _env(cluster: Cluster, region: Region) -> list[Object]:
    spec = cluster.spec
    env = [
        {"name": "NER_BACKEND", "value": spec.backend},
        {"name": "NER_HOST", "value": "0.0.0.0"},
        {"name": "NER_PORT", "value": str(HTTP_PORT)},
        {"name": "NER_DRAIN_SECONDS", "value": str(spec.drain_seconds)},
        {"name": "NER_REGION", "value": region.name},
    ]
    if spec.model_volume is not None:
        env.append({"name": "NER_MODEL_PATH", "value": spec.model_volume.mount_path})
    return env


def _volumes(cluster: Cluster) -> tuple[list[Object], list[Object]]:
    """(pod volumes, container mounts): a writable /tmp on a read-only root, and the weights."""
    volumes: list[Object] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    mounts: list[Object] = [{"name": "tmp", "mountPath": "/tmp"}]
    model_volume = cluster.spec.model_volume
    if model_volume is not None:
        volumes.append(
            {
                "name": "model",
                "persistentVolumeClaim": {"claimName": model_volume.claim_name, "readOnly": True},
            }
        )
        mounts.append({"name": "model", "mountPath": model_volume.mount_path, "readOnly": True})
    return volumes, mounts


def _spread(cluster: Cluster) -> tuple[list[Object], Object]:
    """Spread pods over zones and nodes, softly, so a small cluster still schedules them all."""
    selector = {"matchLabels": labels.pod_selector(cluster.name)}
    constraints = [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": selector,
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    affinity = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": selector,
                    },
                }
            ]
        }
    }
    return constraints, affinity


def deployment(cluster: Cluster, region: Region, replicas: ReplicaPlan) -> Object:
    spec = cluster.spec
    volumes, mounts = _volumes(cluster)
    constraints, affinity = _spread(cluster)
    pod_labels = labels.owned(cluster.name, cluster.uid, region.name)
    container = {
        "name": "inference",
        "image": spec.image,
        "imagePullPolicy": spec.image_pull_policy,
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": _env(cluster, region),
        "resources": {
            "requests": {
                "cpu": str(spec.resources.requests.cpu),
                "memory": str(spec.resources.requests.memory),
            },
            "limits": {
                "cpu": str(spec.resources.limits.cpu),
                "memory": str(spec.resources.limits.memory),
            },
        },
        "livenessProbe": _probe("/health", spec.probes.liveness),
        "readinessProbe": _probe("/ready", spec.probes.readiness),
        "startupProbe": _probe("/ready", spec.probes.startup),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(
            cluster, region, annotations={labels.PLANNED_REPLICAS: str(replicas.replicas)}
        ),
        "spec": {
            "replicas": replicas.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": labels.pod_selector(cluster.name)},
            # Surge first: a rollout never drops below the planned capacity.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "automountServiceAccountToken": False,  # the server never calls the API
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": termination_grace_seconds(spec.drain_seconds),
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "fsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": constraints,
                    "affinity": affinity,
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def service(cluster: Cluster, region: Region) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(cluster, region),
        "spec": {
            "type": cluster.spec.service.type,
            "selector": labels.pod_selector(cluster.name),
            "ports": [
                {
                    "name": "http",
                    "port": cluster.spec.service.port,
                    "targetPort": "http",
                    "protocol": "TCP",
                }
            ],
        },
    }


def horizontal_pod_autoscaler(cluster: Cluster, region: Region, replicas: ReplicaPlan) -> Object:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(cluster, region),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": cluster.name},
            "minReplicas": replicas.hpa_min,
            "maxReplicas": replicas.hpa_max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": (
                                cluster.spec.autoscaling.target_cpu_utilization_percentage
                            ),
                        },
                    },
                }
            ],
        },
    }


def pod_disruption_budget(cluster: Cluster, region: Region) -> Object:
    # maxUnavailable, not minAvailable: a warm region runs a single replica, and minAvailable=1
    # would block every node drain there forever.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(cluster, region),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": labels.pod_selector(cluster.name)},
        },
    }
