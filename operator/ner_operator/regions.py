"""The only module that talks to the target clusters (regions, later the gateway's cluster).

One ``TargetClient`` per kubeconfig Secret, built from the Secret's kubeconfig, cached and rebuilt
when the Secret's resourceVersion changes. Every call has a timeout, and every failure becomes a
``TargetError`` with a CamelCase reason, a message a user can act on, and whether it is transient
(worth a quick retry) or needs someone to change something (a Secret, a quota, RBAC).

Only verbs that every API server supports the same way are used: create, get, list, JSON merge
patch, delete. Label selectors are passed to the server and applied again on the client.

For other modules (the failover timer): ``ClusterClients.for_target(target, namespace)`` gives
the client of a region (``cluster.region_target(region)``) or of the gateway's cluster (a target
without kubeconfig Secret is the operator's own cluster); a ``TargetClient`` has ``get``,
``list_owned``, ``create``, ``merge_patch``, ``scale`` and ``delete``, with ``KINDS["Deployment"]``
etc. Every failure is a ``TargetError``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import yaml
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from ner_operator import labels
from ner_operator.cluster import Target

Object = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str

    def path(self, namespace: str, name: str | None = None) -> str:
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        collection = f"{prefix}/namespaces/{namespace}/{self.plural}"
        return collection if name is None else f"{collection}/{name}"


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("apps/v1", "Deployment", "deployments"),
        Kind("v1", "Service", "services"),
        Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
        Kind("v1", "ConfigMap", "configmaps"),
    )
}
# Kinds searched when pruning and deleting a NerCluster's objects. Register new kinds here.
OWNED_KINDS: tuple[str, ...] = (
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ConfigMap",
)


def kind_of(obj: Mapping[str, Any]) -> Kind:
    try:
        return KINDS[obj["kind"]]
    except KeyError:
        raise ValueError(f"unsupported kind {obj.get('kind')!r}: add it to regions.KINDS") from None


class TargetError(Exception):
    """A target cluster could not be read or written."""

    def __init__(self, reason: str, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.transient = transient


# HTTP status -> (reason, transient). 403 includes "exceeded quota": it needs an admin, not a
# fast retry; 409 is a race with another writer and settles by itself.
_STATUS_REASONS: dict[int, tuple[str, bool]] = {
    400: ("Invalid", False),
    401: ("Unauthorized", False),
    403: ("Forbidden", False),
    409: ("Conflict", True),
    422: ("Invalid", False),
}


def classify(error: BaseException, server: str) -> TargetError:
    """Map a client exception to a TargetError; transient means "retry soon"."""
    if isinstance(error, TargetError):
        return error
    if isinstance(error, ApiException):
        status = int(error.status or 0)
        reason, transient = _STATUS_REASONS.get(status, ("APIError", True))
        return TargetError(
            reason, f"{server} answered {status}: {_api_message(error)}", transient=transient
        )
    if isinstance(error, TimeoutError):
        return TargetError("Unreachable", f"{server} did not answer in time", transient=True)
    if isinstance(error, aiohttp.ClientError | OSError):
        return TargetError("Unreachable", f"{server} is unreachable: {error}", transient=True)
    return TargetError("APIError", f"{server}: {type(error).__name__}: {error}", transient=True)


def _api_message(error: ApiException) -> str:
    body = error.body
    if isinstance(body, bytes | str):
        try:
            parsed = yaml.safe_load(body)  # JSON is YAML
        except yaml.YAMLError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("message"):
            return str(parsed["message"])
    return str(error.reason or "no details")


class TargetClient:
    """Typed-enough access to one cluster: raw dicts in and out, no model round trips."""

    def __init__(self, api: k8s_client.ApiClient, *, timeout: float) -> None:
        self.api = api
        self.timeout = timeout
        self.server = str(api.configuration.host)
        # Namespaces seen to exist: not asked again on every reconcile. Forgotten when a call
        # to this cluster fails (the namespace may be what went missing).
        self.known_namespaces: set[str] = set()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> Object:
        try:
            result = await self.api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                response_types_map={200: "object", 201: "object", 202: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _request_timeout=self.timeout,
            )
        except ApiException:
            raise
        except Exception as e:
            raise classify(e, self.server) from e
        return dict(result or {})

    def _fail(self, error: ApiException) -> NoReturn:
        raise classify(error, self.server) from error

    async def get(self, kind: Kind, namespace: str, name: str) -> Object | None:
        try:
            return await self._call("GET", kind.path(namespace, name))
        except ApiException as e:
            if e.status == 404:
                return None
            self._fail(e)

    async def create(self, obj: Object) -> Object:
        kind = kind_of(obj)
        try:
            return await self._call("POST", kind.path(obj["metadata"]["namespace"]), body=obj)
        except ApiException as e:
            self._fail(e)

    async def merge_patch(self, kind: Kind, namespace: str, name: str, patch: Object) -> Object:
        try:
            return await self._call(
                "PATCH",
                kind.path(namespace, name),
                body=patch,
                content_type="application/merge-patch+json",
            )
        except ApiException as e:
            self._fail(e)

    async def scale(self, namespace: str, name: str, replicas: int) -> Object:
        """Set a Deployment's ``spec.replicas`` (a merge patch of the Deployment: the ``/scale``
        subresource would need one more RBAC rule). An HPA may change it again."""
        patch = {"spec": {"replicas": replicas}}
        return await self.merge_patch(KINDS["Deployment"], namespace, name, patch)

    async def delete(self, kind: Kind, namespace: str, name: str) -> bool:
        """Delete one object; False if it was already gone."""
        try:
            await self._call(
                "DELETE", kind.path(namespace, name), body={"propagationPolicy": "Background"}
            )
        except ApiException as e:
            if e.status == 404:
                return False
            self._fail(e)
        return True

    async def list_owned(self, kind: Kind, namespace: str, cluster_uid: str) -> list[Object]:
        selector = labels.owner_selector(cluster_uid)
        try:
            listing = await self._call(
                "GET", kind.path(namespace), query=[("labelSelector", selector)]
            )
        except ApiException as e:
            if e.status == 404:  # the namespace or the kind does not exist: nothing is owned
                return []
            self._fail(e)
        items = listing.get("items") or []
        return [item for item in items if labels.is_owned_by(item, cluster_uid)]

    async def ensure_namespace(self, namespace: str) -> bool:
        """Create the namespace if it is missing; True if it was created."""
        if namespace in self.known_namespaces:
            return False
        try:
            await self._call("GET", f"/api/v1/namespaces/{namespace}")
            self.known_namespaces.add(namespace)
            return False
        except ApiException as e:
            if e.status != 404:
                self._fail(e)
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {labels.MANAGED_BY: labels.OPERATOR}},
        }
        try:
            await self._call("POST", "/api/v1/namespaces", body=body)
        except ApiException as e:
            if e.status != 409:  # created meanwhile by someone else: fine
                self._fail(e)
        self.known_namespaces.add(namespace)
        return True

    async def close(self) -> None:
        await self.api.close()


@dataclass
class _Cached:
    resource_version: str
    client: TargetClient


class ClusterClients:
    """Clients of every cluster the operator writes to, keyed by kubeconfig Secret.

    ``management`` is the operator's own cluster: it holds the NerClusters and the Secrets, and is
    the target when a target has no kubeconfig Secret (the gateway by default).
    """

    def __init__(self, management: k8s_client.ApiClient, *, timeout: float) -> None:
        self.management = TargetClient(management, timeout=timeout)
        self.timeout = timeout
        self._cache: dict[tuple[str, str, str], _Cached] = {}
        self._lock = asyncio.Lock()

    @classmethod
    async def from_kubeconfig(cls, path: Path | None, *, request_timeout: float) -> ClusterClients:
        """Management client: an explicit kubeconfig, else in-cluster, else ~/.kube/config."""
        return cls(await management_api(path), timeout=request_timeout)

    async def for_target(self, target: Target, secret_namespace: str) -> TargetClient:
        ref = target.kubeconfig_secret
        if ref is None:
            return self.management
        secret = await self._read_secret(secret_namespace, ref.name)
        key = (secret_namespace, ref.name, ref.key)
        version = str(secret.get("metadata", {}).get("resourceVersion", ""))
        async with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.resource_version == version:
                return cached.client
            fresh = TargetClient(
                await _api_from_secret(
                    secret, ref.key, where=f"Secret {secret_namespace}/{ref.name}"
                ),
                timeout=self.timeout,
            )
            self._cache[key] = _Cached(version, fresh)
        if cached is not None:
            await cached.client.close()
        return fresh

    async def _read_secret(self, namespace: str, name: str) -> Object:
        secret = await self.management.get(Kind("v1", "Secret", "secrets"), namespace, name)
        if secret is None:
            raise TargetError(
                "KubeconfigSecretNotFound",
                f"Secret {namespace}/{name} (kubeconfigSecret) does not exist",
                transient=False,
            )
        return secret

    async def close(self) -> None:
        clients = [cached.client for cached in self._cache.values()]
        self._cache.clear()
        for target_client in [*clients, self.management]:
            await target_client.close()


async def management_api(path: Path | None) -> k8s_client.ApiClient:
    configuration = k8s_client.Configuration()
    if path is not None:
        await k8s_config.load_kube_config(config_file=str(path), client_configuration=configuration)
    else:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException:
            await k8s_config.load_kube_config(client_configuration=configuration)
    return k8s_client.ApiClient(configuration)


async def _api_from_secret(secret: Object, key: str, *, where: str) -> k8s_client.ApiClient:
    data = secret.get("data") or {}
    if key not in data:
        raise TargetError(
            "KubeconfigInvalid",
            f"{where} has no key {key!r} (keys: {sorted(data)})",
            transient=False,
        )
    try:
        text = base64.b64decode(data[key], validate=True).decode("utf-8")
        parsed = yaml.safe_load(text)
        if not isinstance(parsed, dict):
            raise ConfigException("not a kubeconfig mapping")
        configuration = k8s_client.Configuration()
        await k8s_config.load_kube_config_from_dict(parsed, client_configuration=configuration)
    except (binascii.Error, UnicodeDecodeError, yaml.YAMLError, ConfigException) as e:
        raise TargetError(
            "KubeconfigInvalid",
            f"{where} key {key!r} is not a usable kubeconfig: {e}",
            transient=False,
        ) from e
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise TargetError(
            "KubeconfigInvalid",
            f"{where} key {key!r} is not a usable kubeconfig: missing or malformed {e}",
            transient=False,
        ) from e
    return k8s_client.ApiClient(configuration)
