"""The drill's numbers from a run whose truth is known: what was lost, when region B took over."""

from __future__ import annotations

from pathlib import Path

from bench.drill import docs, report
from bench.drill.accesslog import Entry
from bench.drill.load import Outcome
from bench.drill.runner import DrillConfig, Run

A, B = "127.0.0.1:1001", "127.0.0.1:2001"
T0 = 1_700_000_000.0
KILL = T0 + 1.0


def _entry(at: float, *upstreams: str, took: float = 0.010) -> Entry:
    statuses = tuple(["502"] * (len(upstreams) - 1) + ["200"])
    return Entry(at, upstreams, statuses, took, 200, "POST /predict HTTP/1.1", took)


def _run() -> Run:
    outcomes = [Outcome(i, T0 + i * 0.01, 0.020, 200, "") for i in range(200)]
    outcomes[150] = Outcome(150, T0 + 1.5, 0.020, 200, "truncated")
    outcomes[151] = Outcome(151, T0 + 1.51, 0.001, 0, "connection-closed")
    entries = [_entry(T0 + i * 0.01 + 0.02, A) for i in range(100)]
    # The first answer from B after the kill: nginx sent it at KILL + 0.030, B took 0.040.
    entries.append(_entry(KILL + 0.070, A, B, took=0.040))
    entries += [_entry(KILL + 0.1 + i * 0.01, B) for i in range(99)]
    events = [("sigkill region region-a", KILL), ("region region-a ready", KILL + 0.5)]
    return Run(
        DrillConfig(requests=200, quiet=True),
        {"region-a": [A], "region-b": [B]},
        outcomes,
        entries,
        events,
        T0,
        T0 + 2.1,
        Path("."),
    )


def test_lost_counts_every_client_side_failure_even_when_nginx_logged_200() -> None:
    summary = report.summarize(_run())
    assert summary["requests"] == 200
    assert summary["lost"] == 2
    assert summary["lost_by_reason"] == {"truncated": 1, "connection-closed": 1}
    assert summary["nginx_non_2xx"] == 0  # why the access log alone cannot count losses


def test_switch_is_kill_to_first_answer_from_b_and_reroute_is_when_it_was_sent() -> None:
    summary = report.summarize(_run())
    assert summary["switch_ms"] == 70.0
    assert summary["reroute_ms"] == 30.0
    assert summary["answered_by_region"] == {"region-a": 100, "region-b": 100}
    assert summary["nginx_retried"] == 1
    assert summary["failback_ms"] is None  # region A never answered again


def test_the_worst_run_is_the_one_that_lost_most_then_switched_slowest() -> None:
    runs = [
        {"run": 1, "lost": 0, "switch_ms": 90.0, "p99_ms": 300.0},
        {"run": 2, "lost": 1, "switch_ms": 20.0, "p99_ms": 100.0},
        {"run": 3, "lost": 0, "switch_ms": 95.0, "p99_ms": 100.0},
    ]
    assert report.worst(runs)["run"] == 2
    assert report.worst([runs[0], runs[2]])["run"] == 3


def test_docs_say_so_when_a_run_lost_requests() -> None:
    summary = {**report.summarize(_run()), "run": 1}
    text = docs.markdown({"sigkill": {"worst": summary, "runs": [summary]}})
    assert "**2 lost** of 200" in text
    assert "runs above lost requests: sigkill 2" in text
