"""The drill's picture: requests/s and latency per region over time, the loss and return marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from bench.drill.report import region_of
from bench.drill.runner import Run

COLORS = {0: "tab:blue", 1: "tab:orange"}
BIN = 0.25  # seconds


def timeline(run: Run, path: Path, title: str) -> None:
    regions = region_of(run)
    names = list(run.regions)
    entries = run.entries
    end = max([e.msec - run.started for e in entries] + [run.finished - run.started])
    bins = [i * BIN for i in range(int(end / BIN) + 2)]
    fig, (rate_ax, latency_ax) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    for index, name in enumerate(names):
        times = [e.msec - run.started for e in entries if regions.get(e.answered_by) == name]
        counts = [0] * len(bins)
        for t in times:
            counts[min(len(bins) - 1, max(0, int(t / BIN)))] += 1
        rate_ax.step(bins, [c / BIN for c in counts], where="post", color=COLORS[index], label=name)
        latency_ax.scatter(
            times,
            [e.request_time * 1000 for e in entries if regions.get(e.answered_by) == name],
            s=2,
            color=COLORS[index],
            label=name,
            alpha=0.5,
        )
    lost = [o for o in run.outcomes if not o.ok]
    if lost:
        latency_ax.scatter(
            [o.started + o.latency - run.started for o in lost],
            [o.latency * 1000 for o in lost],
            marker="x",
            s=30,
            color="red",
            label=f"lost ({len(lost)})",
        )
    for what, t in run.events:
        if what.endswith(" down"):  # the process exits: a few ms after the kill line, unreadable
            continue
        going = what.startswith(("sigkill", "sigterm", "sigstop", "stop"))
        style = "red" if going else "green"
        for ax in (rate_ax, latency_ax):
            ax.axvline(t - run.started, color=style, linestyle="--", linewidth=1)
        rate_ax.annotate(
            what.replace("region region-", "region "),
            (t - run.started, 1),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color=style,
        )
    rate_ax.set_ylabel(f"answers/s ({int(BIN * 1000)} ms bins, nginx log)")
    rate_ax.legend(loc="lower right", fontsize=8)
    rate_ax.set_title(title, fontsize=10)
    latency_ax.set_ylabel("latency ms (nginx $request_time)")
    latency_ax.set_yscale("log")
    latency_ax.set_xlabel("seconds since the first request")
    latency_ax.legend(loc="upper right", fontsize=8, markerscale=4)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
