from __future__ import annotations

from typing import Any

from ner_operator.cluster import Cluster, cluster_from_body

from tests.support import samples

UID = "4a0c2b8e-0000-4000-8000-000000000001"


def make_cluster(spec: dict[str, Any] | None = None, **status: Any) -> Cluster:
    return cluster_from_body(samples.nercluster(uid=UID, spec_=spec, status=status or None))
