"""The NerCluster spec as typed, immutable models with the CRD's defaults.

The CRD's openAPIV3Schema and CEL rules reject bad specs at the API server; the same rules are
repeated here (``_check_cel_rules``) because an object can reach the operator without that check
(an old CRD, a test emulator) and a clear ``SpecError`` beats a ``KeyError`` deep in a builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

Role = Literal["primary", "standby"]
Mode = Literal["activePassive", "activeActive"]
Backend = Literal["builtin", "raner"]
ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
GOLDEN_TEXT = "李克强总理在北京会见了德国总理默克尔。"


class SpecError(ValueError):
    """The spec cannot be reconciled; the message says which field and why."""


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class SecretKeyRef(_Model):
    name: str = Field(min_length=1)
    key: str = Field(default="kubeconfig", min_length=1)


class ModelVolume(_Model):
    claim_name: str = Field(min_length=1)
    mount_path: str = Field(default="/models/raner", pattern=r"^/")


class Region(_Model):
    name: str = Field(pattern=DNS_LABEL, max_length=63)
    role: Role
    kubeconfig_secret: SecretKeyRef
    namespace: str = Field(default="ner", pattern=DNS_LABEL, max_length=63)
    replicas: int = Field(default=2, ge=1, le=1000)
    warm_replicas: int = Field(default=1, ge=1, le=1000)
    endpoint: str | None = Field(default=None, pattern=r"^https?://\S+$")

    @model_validator(mode="after")
    def _replicas_cover_warm(self) -> Region:
        if self.replicas < self.warm_replicas:
            raise ValueError("replicas must be >= warmReplicas")
        return self


class Autoscaling(_Model):
    enabled: bool = True
    min_replicas: int = Field(default=2, ge=1)
    max_replicas: int = Field(default=10, ge=1, le=1000)
    target_cpu_utilization_percentage: int = Field(
        default=70, ge=1, le=100, alias="targetCPUUtilizationPercentage"
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaling.minReplicas must be <= autoscaling.maxReplicas")
        return self


class ResourceList(_Model):
    cpu: str | int
    memory: str | int


class Resources(_Model):
    requests: ResourceList = ResourceList(cpu="1", memory="1Gi")
    limits: ResourceList = ResourceList(cpu="2", memory="4Gi")


class Probe(_Model):
    period_seconds: int = Field(ge=1, le=3600)
    timeout_seconds: int = Field(ge=1, le=3600)
    failure_threshold: int = Field(ge=1, le=10000)


_PROBE_DEFAULTS: dict[str, dict[str, int]] = {
    "liveness": {"periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
    "readiness": {"periodSeconds": 2, "timeoutSeconds": 2, "failureThreshold": 1},
    "startup": {"periodSeconds": 2, "timeoutSeconds": 2, "failureThreshold": 60},
}


class Probes(_Model):
    liveness: Probe = Probe.model_validate(_PROBE_DEFAULTS["liveness"])
    readiness: Probe = Probe.model_validate(_PROBE_DEFAULTS["readiness"])
    startup: Probe = Probe.model_validate(_PROBE_DEFAULTS["startup"])

    @model_validator(mode="before")
    @classmethod
    def _fill_each_probe(cls, data: Any) -> Any:
        # The three probes have different defaults per field, which one CRD schema cannot say:
        # a partly given probe takes the missing timings from its own defaults here.
        if not isinstance(data, Mapping):
            return data
        filled = dict(data)
        for name, defaults in _PROBE_DEFAULTS.items():
            given = filled.get(name)
            if isinstance(given, Mapping):
                filled[name] = {**defaults, **given}
        return filled


class ServiceSpec(_Model):
    type: ServiceType = "LoadBalancer"
    port: int = Field(default=80, ge=1, le=65535)


class GoldenEntity(_Model):
    type: Literal["PER", "LOC", "ORG"]
    span: str = Field(min_length=1)


class Golden(_Model):
    text: str = Field(default=GOLDEN_TEXT, min_length=1)
    entities: tuple[GoldenEntity, ...] = (
        GoldenEntity(type="PER", span="李克强"),
        GoldenEntity(type="LOC", span="北京"),
        GoldenEntity(type="LOC", span="德国"),
        GoldenEntity(type="PER", span="默克尔"),
    )


class Failover(_Model):
    probe_interval_seconds: float = Field(default=2.0, ge=0.1)
    probe_timeout_seconds: float = Field(default=2.0, ge=0.1)
    failure_threshold: int = Field(default=3, ge=1)
    success_threshold: int = Field(default=5, ge=1)
    failback: Literal["auto", "manual"] = "auto"
    cooldown_seconds: float = Field(default=60.0, ge=0)
    min_switch_interval_seconds: float = Field(default=120.0, ge=0)
    golden: Golden = Golden()


class Gateway(_Model):
    enabled: bool = True
    kubeconfig_secret: SecretKeyRef | None = None
    namespace: str | None = Field(default=None, pattern=DNS_LABEL)
    replicas: int = Field(default=2, ge=1)
    image: str = Field(default="nginx:1.27-alpine", min_length=1)
    service_type: ServiceType = "LoadBalancer"
    client_keepalive_seconds: float | None = Field(default=None, ge=0)


class NerClusterSpec(_Model):
    image: str = Field(default="ner-ha/inference:0.1.0", min_length=1)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    backend: Backend = "builtin"
    model_volume: ModelVolume | None = None
    mode: Mode = "activePassive"
    regions: tuple[Region, ...] = Field(min_length=1, max_length=8)
    autoscaling: Autoscaling = Autoscaling()
    resources: Resources = Resources()
    probes: Probes = Probes()
    service: ServiceSpec = ServiceSpec()
    drain_seconds: int = Field(default=10, ge=0, le=3600)
    failover: Failover = Failover()
    gateway: Gateway = Gateway()

    @model_validator(mode="after")
    def _check_cel_rules(self) -> NerClusterSpec:
        # The spec-level x-kubernetes-validations of crds/nerclusters.yaml, same messages.
        if sum(r.role == "primary" for r in self.regions) != 1:
            raise ValueError("exactly one region must have role: primary")
        if len({r.name for r in self.regions}) != len(self.regions):
            raise ValueError("region names must be unique")
        if any(r.name == "gateway" for r in self.regions):
            raise ValueError("region name gateway is reserved for the gateway's objects")
        if self.mode == "activePassive" and len(self.regions) != 2:
            raise ValueError("mode activePassive needs exactly 2 regions (1 primary, 1 standby)")
        if self.backend == "raner" and self.model_volume is None:
            raise ValueError(
                "backend raner needs modelVolume (the RaNER weights are mounted read-only)"
            )
        return self

    @property
    def primary(self) -> Region:
        return next(r for r in self.regions if r.role == "primary")

    def region(self, name: str) -> Region | None:
        return next((r for r in self.regions if r.name == name), None)


def parse_spec(raw: Mapping[str, Any]) -> NerClusterSpec:
    """Validate a NerCluster's ``spec`` (a dict from the API) into the typed model."""
    try:
        return NerClusterSpec.model_validate(dict(raw))
    except ValidationError as e:
        problems = "; ".join(_describe(err) for err in e.errors())
        raise SpecError(f"invalid spec: {problems}") from None


def _describe(err: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in err.get("loc", ()))
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
