"""The kopf handlers: thin wrappers around ``sync.reconcile_nercluster`` and ``remove_all``.

Run with ``python -m ner_operator`` or ``kopf run -m ner_operator.handlers``. Settings come from
``NER_OPERATOR_*`` environment variables (``config.OperatorConfig``), read once at import because
the resync timer's interval is fixed when it is registered.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

import kopf
import prometheus_client

from ner_operator import API_GROUP, API_VERSION, PLURAL, labels
from ner_operator.config import OperatorConfig
from ner_operator.reconcile import Reconciler, remove_all
from ner_operator.regions import ClusterClients
from ner_operator.spec import SpecError
from ner_operator.sync import read_cluster, reconcile_nercluster, reconciler_from

CONFIG = OperatorConfig()
FINALIZER = "nerha.dev/cleanup"
RESOURCE = (API_GROUP, API_VERSION, PLURAL)


class _QuietTimerSuccess(logging.Filter):
    """Drops kopf's "Timer 'failover' succeeded." lines: the failover timer ticks twice a second,
    so they would drown the log. Timer failures and everything else still get through."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Timer ") and message.endswith(" succeeded."))


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    # Handler progress and the last handled spec go to annotations: status stays ours.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="nerha.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="nerha.dev", key="last-handled-configuration"
    )
    # kopf's own log lines become Events from WARNING up (failures); the operator's own Events
    # (sync._post_events) are posted explicitly. INFO would post every timer run.
    settings.posting.level = logging.WARNING
    logging.getLogger("kopf.objects").addFilter(_QuietTimerSuccess())
    settings.networking.request_timeout = CONFIG.request_timeout_seconds * 6
    clients = await ClusterClients.from_kubeconfig(
        CONFIG.kubeconfig, request_timeout=CONFIG.request_timeout_seconds
    )
    memo.reconciler = Reconciler(clients)
    if CONFIG.metrics_port:
        prometheus_client.start_http_server(CONFIG.metrics_port, addr=CONFIG.metrics_host)


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    reconciler = getattr(memo, "reconciler", None)
    if isinstance(reconciler, Reconciler):
        await reconciler.clients.close()


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
async def apply(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    """Every change of a NerCluster (and every operator start) reconciles every region."""
    outcome = await reconcile_nercluster(body, patch, reconciler_from(memo))
    if outcome is None:
        # Retrying cannot fix a spec; the next edit of the NerCluster triggers a new attempt.
        raise kopf.PermanentError("invalid spec, see the Degraded condition")
    transient = [r for r in outcome.failed if r.error is not None and r.error.transient]
    if transient:
        # Unreachable regions: retry soon. Errors that need a person (a bad kubeconfig Secret,
        # RBAC, quota) are left to the resync timer, which picks up the fix when it is made.
        names = ", ".join(r.target for r in transient)
        raise kopf.TemporaryError(f"retrying {names}", delay=CONFIG.retry_seconds)


@kopf.timer(*RESOURCE, interval=CONFIG.resync_seconds, initial_delay=CONFIG.resync_seconds)
async def resync(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    """Drift repair: deleted or edited objects in a region come back within one interval."""
    await reconcile_nercluster(body, patch, reconciler_from(memo))


@kopf.on.delete(*RESOURCE)
async def delete(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """Remove every object in every region (found by the UID label) before the finalizer goes."""
    try:
        cluster = read_cluster(body)
    except SpecError as e:
        # Without a valid spec there is no kubeconfig to reach the regions with.
        logger.warning(f"not cleaning up the regions: {e}")
        return
    outcome = await remove_all(cluster, reconciler_from(memo))
    failed = outcome.failed
    if not failed:
        return
    problems = "; ".join(f"{r.target}: {r.error}" for r in failed)
    if cluster.annotations.get(labels.SKIP_REGION_CLEANUP) == "true":
        message = f"objects may remain: {problems}"
        kopf.event(body, type="Warning", reason="CleanupSkipped", message=message)
        return
    raise kopf.TemporaryError(
        f"cleanup incomplete ({problems}); retrying. To delete anyway, annotate the NerCluster "
        f'{labels.SKIP_REGION_CLEANUP}="true"',
        delay=CONFIG.retry_seconds,
    )


# Handlers of other concerns register themselves with kopf on import. Loading them here means every
# way of starting the operator (python -m ner_operator, kopf run -m ner_operator.handlers, the
# tests) runs the same set. A module that does not exist yet is skipped.
HANDLER_MODULES = ("ner_operator.failover_flow",)
for _module in HANDLER_MODULES:
    if importlib.util.find_spec(_module) is not None:
        importlib.import_module(_module)
