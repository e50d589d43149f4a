"""The Grafana dashboard shipped in the chart queries metrics that the code really exports,
with labels those metrics really have (a renamed metric shows up here, not as an empty panel)."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import helm_python
import prometheus_client
from ner_inference.server.metrics import Metrics

from tests.install.manifests import CHART, load_all

# Labels Prometheus adds, not the code: histogram buckets, and the region label a regional
# PodMonitor copies from the inference pods' nerha.dev/region (README, "Metrics and dashboard").
SCRAPE_LABELS = {"le", "nerha_dev_region"}
METRIC = re.compile(r"\b(ner_[a-z_]+)\b")
BY = re.compile(r"\bby \(([^)]*)\)")


def dashboard() -> dict[str, Any]:
    rendered = helm_python.Chart.load(CHART).render({}, name="ner-operator", namespace="ner")
    configmaps = [
        o
        for path, text in rendered.items()
        if path.endswith("dashboard.yaml")
        for o in load_all(text)
    ]
    (configmap,) = configmaps
    (text,) = configmap["data"].values()
    result: dict[str, Any] = json.loads(text)
    return result


def exported() -> dict[str, set[str]]:
    """Exposition name (``*_total``, ``*_bucket``, ...) -> label names, for every metric."""
    importlib.import_module("ner_operator.metrics")
    importlib.import_module("ner_operator.failover_flow")
    collectors = [
        *prometheus_client.REGISTRY._collector_to_names,
        *Metrics().registry._collector_to_names,
    ]
    names: dict[str, set[str]] = {}
    for collector in collectors:
        labels = set(getattr(collector, "_labelnames", ()))
        base = getattr(collector, "_name", None)
        kind = getattr(collector, "_type", None)
        if base is None:
            continue
        suffixes = {
            "counter": ["_total"],
            "histogram": ["_bucket", "_sum", "_count"],
            "gauge": [""],
        }.get(kind or "", [""])
        for suffix in suffixes:
            names[base + suffix] = labels
    return names


def expressions() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel["targets"]
    ]


def test_the_dashboard_shows_what_an_on_call_person_needs() -> None:
    titles = " | ".join(p["title"].lower() for p in dashboard()["panels"])
    for needed in ("requests/s", "p99", "errors", "entities", "region health", "failovers"):
        assert needed in titles


def test_every_queried_metric_exists_with_the_labels_used() -> None:
    metrics = exported()
    for title, expr in expressions():
        used = set(METRIC.findall(expr))
        assert used, f"{title}: no ner_* metric in {expr}"
        unknown = used - set(metrics)
        assert not unknown, f"{title}: {unknown} is exported by nothing (known: {sorted(metrics)})"
        available = set().union(*(metrics[m] for m in used)) | SCRAPE_LABELS
        for group in BY.findall(expr):
            labels = {label.strip() for label in group.split(",")}
            assert labels <= available, f"{title}: no label {labels - available} on {used}"


def test_panels_use_the_datasource_variable_and_do_not_overlap() -> None:
    board = dashboard()
    assert board["uid"] == "ner-ha"
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "region"} <= variables
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
