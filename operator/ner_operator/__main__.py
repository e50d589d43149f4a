"""``python -m ner_operator``: run the operator (kopf) with this project's handlers and settings.

Flags override the ``NER_OPERATOR_*`` environment (see ``config.OperatorConfig``); kopf's own
options (namespaces, peering, liveness endpoint) are passed through to ``kopf.run``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import random
from collections.abc import Sequence


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ner_operator",
        description="Reconcile NerClusters into their primary and standby regions.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch NerClusters (and read kubeconfig Secrets) in this namespace; repeatable",
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument(
        "--peering",
        metavar="NAME",
        help="KopfPeering object shared by the operator's replicas: only one replica acts",
    )
    peering.add_argument(
        "--standalone", action="store_true", help="no peering (a single replica only)"
    )
    parser.add_argument(
        "--priority",
        type=int,
        help="peering priority; default random, so that replicas never tie (a tie pauses both)",
    )
    parser.add_argument(
        "--liveness",
        metavar="URL",
        help="kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig of the management cluster")
    parser.add_argument("--resync-seconds", type=float, help="drift repair interval (default 15)")
    parser.add_argument(
        "--retry-seconds", type=float, help="retry delay after a transient error (default 5)"
    )
    parser.add_argument("--metrics-port", type=int, help="port of /metrics (default 9090; 0: off)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every API call")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # Settings reach config.OperatorConfig through the environment: it is read when the handlers
    # are imported, which must therefore happen after this.
    overrides = {
        "NER_OPERATOR_KUBECONFIG": args.kubeconfig,
        "NER_OPERATOR_RESYNC_SECONDS": args.resync_seconds,
        "NER_OPERATOR_RETRY_SECONDS": args.retry_seconds,
        "NER_OPERATOR_METRICS_PORT": args.metrics_port,
    }
    os.environ.update({k: str(v) for k, v in overrides.items() if v is not None})
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    # Imported only now: kubernetes_asyncio (kopf's login) reads KUBECONFIG when it is imported.
    import kopf

    importlib.import_module("ner_operator.handlers")  # registers every handler module
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.FULL)
    logging.getLogger("kopf.objects").setLevel(logging.INFO)
    priority = args.priority
    if priority is None and args.peering:
        priority = random.randint(1, 2**31 - 1)
    kopf.run(
        clusterwide=args.all_namespaces,
        namespaces=args.namespace,
        standalone=args.standalone or None,
        peering_name=args.peering,
        priority=priority,
        liveness_endpoint=args.liveness,
    )


if __name__ == "__main__":
    main()
