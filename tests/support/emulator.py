"""kmock's Kubernetes emulator with the fixes that real clients (kopf, kubernetes_asyncio) need.

kmock 0.8's ``KubernetesEmulator`` stores objects and streams watch events, but it is more lenient
(and in places simply different) than a kube-apiserver. Every deviation that breaks kopf or
kubernetes_asyncio is fixed here and nowhere else; ``tests/integration/test_emulator.py`` has one
test per fix that shows the failure it prevents:

1. server-assigned metadata on create (``uid``, ``resourceVersion``, ``creationTimestamp``,
   ``generation``, ``namespace``) and ``generateName``;
2. ``resourceVersion`` bumps on every write and ``generation`` bumps when anything but
   metadata/status changes (kopf's optimistic JSON patches and ``observedGeneration`` rely on both);
3. HTTP 422 when a JSON-patch ``test`` op fails (kopf retries on 422; kmock answered 500);
4. ``/api/v1`` discovery with ``groupVersion: v1`` (kmock said ``/v1``);
5. ``/api/v1/namespaces`` and ``/api/v1/namespaces/{name}``: kmock's path parser read
   ``namespaces`` as the namespace prefix of a namespaced path and crashed (500) or 404ed;
   ``_parse_path`` (installed into kmock on import) reads them as the cluster-scoped resource;
6. ``kind``/``apiVersion``/``resourceVersion`` on lists;
7. ``content-type: application/json`` on watch streams;
8. a CustomResourceDefinition registers its kind, scope, short names and ``status`` subresource
   for discovery (kopf patches status through ``/status`` only when discovery says it exists).

What it still does not emulate (tests must not rely on it): strategic-merge patch, server-side
apply, PUT, status isolation, label/field selectors, watch ``resourceVersion``, garbage
collection, admission/schema validation, controllers.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock
from kmock._internal import dicts, enums, k8s, parsing, references, rendering

NAMESPACES = kmock.resource("", "v1", "namespaces")
CRDS = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
_NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces(?:/(?P<name>[^/]+))?/?$")
_ALL_VERBS = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}


_parse_path_of_kmock = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    """Fix 5: namespaces are a cluster-scoped resource, not the prefix of a namespaced path."""
    match = _NAMESPACE_PATH.match(path)
    if match is not None:
        return parsing.ParsedPath("", "v1", "namespaces", None, match.group("name"), None)
    return _parse_path_of_kmock(path)


parsing.parse_path = _parse_path  # kmock's request parser looks it up on every request


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def essence(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if k not in ("metadata", "status")}

    return essence(old) != essence(new)


@attrs.define(kw_only=True)
class KubeEmulator(k8s.KubernetesEmulator):
    """A stateful Kubernetes API over HTTP, close enough to kube-apiserver for kopf."""

    _revision: int = attrs.field(default=0, init=False)
    # Writes are computed from the stored object before kmock applies them: serialise them so two
    # concurrent patches cannot both start from the same resourceVersion.
    _write_lock: asyncio.Lock = attrs.field(factory=asyncio.Lock, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources.load_bundled()

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.resource is None or request.action not in (
            enums.action.CREATE,
            enums.action.UPDATE,
            enums.action.DELETE,
        ):
            return await super()._handle(request)
        async with self._write_lock:
            if request.action == enums.action.CREATE:
                self._prepare_create(request)
            elif request.action == enums.action.UPDATE:
                self._prepare_patch(request)
            else:
                self._prepare_delete(request)
            return await super()._handle(request)

    def _prepare_create(self, request: rendering.Request) -> None:
        """Fix 1: fill what the API server assigns; fix 8: CRDs register their resources."""
        body = request.data
        if not isinstance(body, dict):
            raise k8s.KubernetesError(400, "BadRequest", "the body must be a JSON object")
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise k8s.KubernetesError(422, "Invalid", "metadata.name: Required value")
        if request.namespace is not None:
            meta["namespace"] = request.namespace
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = self._next_revision()
        meta["creationTimestamp"] = _now()
        meta["generation"] = 1
        if request.resource == CRDS:
            self._register_crd(body)

    def _prepare_patch(self, request: rendering.Request) -> None:
        """Fixes 2 and 3: validate JSON-patch tests, bump resourceVersion and generation."""
        assert request.resource is not None
        key = (request.resource, request.namespace, request.name or "")
        if key not in self.objects or self.objects[key].deleted:
            raise k8s.KubernetesObjectNotFoundError()
        old: dict[str, Any] = copy.deepcopy(self.objects[key].raw)
        patch = request.data
        if isinstance(patch, list):
            try:
                new = jsonpatch.apply_patch(old, patch, in_place=False)
            except jsonpatch.JsonPatchTestFailed as e:
                raise k8s.KubernetesError(422, "Invalid", f"the JSON patch test failed: {e}") from e
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
                raise k8s.KubernetesError(422, "Invalid", f"the JSON patch is invalid: {e}") from e
        elif isinstance(patch, dict):
            new = dict(dicts.merge_patch_dict(old, patch))
        else:
            raise k8s.KubernetesError(400, "BadRequest", "the patch must be JSON")
        revision = self._next_revision()
        generation = int(old.get("metadata", {}).get("generation", 1))
        if _spec_changed(old, new):
            generation += 1
        if isinstance(patch, list):
            new.setdefault("metadata", {}).update(resourceVersion=revision, generation=generation)
            # kmock applies the list again to the stored object: make it one whole replacement.
            patch[:] = [{"op": "replace", "path": "", "value": new}]
        else:
            metadata = patch.get("metadata") or {}
            patch["metadata"] = {**metadata, "resourceVersion": revision, "generation": generation}

    def _prepare_delete(self, request: rendering.Request) -> None:
        """Fix 2: marking an object with finalizers for deletion is a write, too."""
        assert request.resource is not None
        key = (request.resource, request.namespace, request.name or "")
        if key in self.objects and not self.objects[key].deleted:
            meta = self.objects[key].get("metadata", {})
            if meta.get("finalizers") and not meta.get("deletionTimestamp"):
                self.objects[key].patch({"metadata": {"resourceVersion": self._next_revision()}})

    def _register_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            resource = kmock.resource(spec["group"], version["name"], names["plural"])
            self.resources[resource] = references.ResourceInfo(
                kind=names.get("kind"),
                singular=names.get("singular") or names.get("kind", "").lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                shortnames=set(names.get("shortNames", [])),
                categories=set(names.get("categories", [])),
                verbs=_ALL_VERBS,
                subresources={"status"} if "status" in version.get("subresources", {}) else set(),
            )

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        """Fix 6: lists carry kind/apiVersion and a real resourceVersion."""
        payload = await super()._serve_list(request)
        assert isinstance(payload, dict) and request.resource is not None
        known = request.resource in self.resources  # indexing would auto-register it
        kind = (known and self.resources[request.resource].kind) or request.resource.plural or ""
        group, version = request.resource.group, request.resource.version
        return {
            **payload,
            "apiVersion": f"{group}/{version}" if group else version,
            "kind": f"{kind}List",
            "metadata": {"resourceVersion": str(self._revision)},
        }

    async def _serve_watch(self, request: rendering.Request) -> rendering.Response:  # type: ignore[override]
        """Fix 7: kmock streamed watch events as application/octet-stream."""
        stream: AsyncIterator[rendering.Payload] = super()._serve_watch(request)
        return rendering.Response(headers={"Content-Type": "application/json"}, payload=stream)

    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        """Fix 4: the core group's version document says ``groupVersion: v1``, not ``/v1``."""
        payload = await super()._serve_version(request)
        assert isinstance(payload, dict) and request.resource is not None
        if request.resource.group == "":
            payload["groupVersion"] = request.resource.version
        return payload
