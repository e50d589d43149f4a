"""From what a run observed to the numbers users trust: lost requests, switch time, latency."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from typing import Any

from bench.drill.accesslog import Entry
from bench.drill.runner import Run

Summary = dict[str, Any]


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def region_of(run: Run) -> dict[str, str]:
    return {address: name for name, addresses in run.regions.items() for address in addresses}


def event_time(run: Run, prefix: str) -> float | None:
    return next((t for what, t in run.events if what.startswith(prefix)), None)


def _first_answer(entries: list[Entry], addresses: set[str], after: float) -> float | None:
    times = [
        e.msec
        for e in entries
        if e.msec >= after and e.answered_by in addresses and 200 <= e.status < 300
    ]
    return min(times) - after if times else None


def _first_sent(entries: list[Entry], addresses: set[str], after: float) -> float | None:
    """Seconds from ``after`` to the first try nginx sent to ``addresses`` that got answered."""
    times = [
        e.last_try_started
        for e in entries
        if e.last_try_started is not None
        and e.last_try_started >= after - 0.001  # $msec and the try time are in milliseconds
        and e.answered_by in addresses
    ]
    return max(0.0, min(times) - after) if times else None


def summarize(run: Run) -> Summary:
    outcomes = run.outcomes
    ok = [o for o in outcomes if o.ok]
    latencies = sorted(o.latency for o in ok)
    ends = sorted(o.started + o.latency for o in ok)
    first_start = min((o.started for o in outcomes), default=run.started)
    last_end = max((o.started + o.latency for o in outcomes), default=run.finished)
    duration = max(last_end - first_start, 1e-9)
    regions = region_of(run)
    names = list(run.regions)
    lost_region, other = names[0], names[1]
    predict = [e for e in run.entries if "/predict" in e.request or not e.request]
    by_region = Counter(regions.get(e.answered_by, "none") for e in predict)
    loss = next((t for what, t in run.events if what.startswith("sig")), None)
    ready = event_time(run, f"region {lost_region} ready")
    other_addresses = set(run.regions[other])
    switch = None if loss is None else _first_answer(predict, other_addresses, loss)
    reroute = None if loss is None else _first_sent(predict, other_addresses, loss)
    failback = (
        None if ready is None else _first_answer(predict, set(run.regions[lost_region]), ready)
    )
    failover_seen = event_time(run, f"operator: {other} active")
    failback_seen = event_time(run, f"operator: {lost_region} active")
    region_latency = {
        name: _latency_ms([e.request_time for e in predict if regions.get(e.answered_by) == name])
        for name in names
    }
    return {
        "variant": run.config.variant,
        "requests": len(outcomes),
        "ok": len(ok),
        "lost": len(outcomes) - len(ok),
        "lost_by_reason": dict(Counter(o.error for o in outcomes if o.error)),
        "switch_ms": _ms(switch),
        "reroute_ms": _ms(reroute),
        "failback_ms": _ms(failback),
        # --with-operator: when status.activeRegion changed (the control plane's decision)
        "operator_failover_ms": _ms(
            None if loss is None or failover_seen is None else failover_seen - loss
        ),
        "operator_failback_ms": _ms(
            None if ready is None or failback_seen is None else failback_seen - ready
        ),
        "max_gap_ms": _ms(max((b - a for a, b in itertools.pairwise(ends)), default=0)),
        "p50_ms": _ms(_percentile(latencies, 0.50)),
        "p99_ms": _ms(_percentile(latencies, 0.99)),
        "max_ms": _ms(latencies[-1] if latencies else None),
        "req_per_s": round(len(outcomes) / duration, 1),
        "duration_s": round(duration, 2),
        # The load generator shares the 2 cores with the servers: what it took of them.
        "client_cpu_share": round(run.client_cpu_seconds / duration, 3),
        "foreign_cpu_cores": round(run.foreign_cores, 2),
        "concurrency": run.config.concurrency,
        "nginx_logged": len(predict),
        "nginx_non_2xx": sum(not 200 <= e.status < 300 for e in predict),
        "nginx_retried": sum(e.retried for e in predict),
        "answered_by_region": {name: by_region.get(name, 0) for name in names},
        "other_region_before_loss": (
            None
            if loss is None
            else sum(e.msec < loss and e.answered_by in other_addresses for e in predict)
        ),
        "nginx_latency_ms_by_region": region_latency,
        "events_s": {what: round(t - run.started, 3) for what, t in run.events},
    }


def _latency_ms(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p99": None}
    values = sorted(seconds)
    return {"p50": _ms(statistics.median(values)), "p99": _ms(_percentile(values, 0.99))}


def severity(summary: Summary) -> tuple[float, float, float]:
    """Worse runs sort last: lost requests first, then switch time, then tail latency."""
    return (summary["lost"], summary["switch_ms"] or 0.0, summary["p99_ms"] or 0.0)


def worst(summaries: list[Summary]) -> Summary:
    return max(summaries, key=severity)


COLUMNS = (
    ("run", "run"),
    ("requests", "requests"),
    ("ok", "ok"),
    ("lost", "lost"),
    ("switch_ms", "switch ms"),
    ("reroute_ms", "reroute ms"),
    ("failback_ms", "failback ms"),
    ("max_gap_ms", "max gap ms"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("req_per_s", "req/s"),
    ("nginx_retried", "nginx retries"),
    ("operator_failover_ms", "operator failover ms"),
    ("operator_failback_ms", "operator failback ms"),
)
OPTIONAL = {"operator_failover_ms", "operator_failback_ms"}  # shown when a run has them


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def table(summaries: list[Summary], labels: list[str]) -> str:
    """A Markdown table (readable in a terminal too), one row per run."""
    columns = [
        (key, title)
        for key, title in COLUMNS
        if key not in OPTIONAL or any(s.get(key) is not None for s in summaries)
    ]
    header = "| " + " | ".join(title for _, title in columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    rows = [
        "| " + " | ".join([label] + [_cell(s.get(key)) for key, _ in columns[1:]]) + " |"
        for label, s in zip(labels, summaries, strict=True)
    ]
    return "\n".join([header, rule, *rows])
