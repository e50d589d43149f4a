"""kopf operator that runs a NerCluster in a primary and a standby region.

Layout: ``spec`` (typed spec) -> ``cluster`` (one NerCluster's identity and targets) -> ``layout``
(pure builders of every Kubernetes object) -> ``reconcile`` (desired state -> apply per target ->
report) -> ``status``/``conditions`` (pure status patches) -> ``handlers`` (thin kopf handlers).
``regions`` is the only module that talks to the region clusters.
"""

API_GROUP = "nerha.dev"
API_VERSION = "v1alpha1"
PLURAL = "nerclusters"
KIND = "NerCluster"
