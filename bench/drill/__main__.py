"""``python -m bench.drill``: the disaster drill, repeated, the worst run reported.

    python -m bench.drill [--runs 5] [--requests 10000] [--concurrency 50] [--seed 0]
                          [--kill sigkill|sigterm] [--rolling] [--work-dir DIR]

Starts region A and region B (``--servers-per-region`` real inference servers each) behind a real
nginx running the operator's gateway configuration for "A active, B backup", sends ``--requests``
``POST /predict`` with MSRA test sentences at ``--concurrency``, loses region A mid-run (SIGKILL of
every process by default), restarts it, and counts every request from the client's side and from
nginx's access log. Prints a table per run; writes the worst run of the variant to
``bench/results/drill.json`` (other variants' entries are kept), regenerates ``docs/drill.md`` and,
for the SIGKILL drill, ``docs/drill.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.drill import docs, plot, report
from bench.drill.runner import DrillConfig, Run, run_drill

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "drill.json"


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench.drill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--runs", type=int, default=5, help="repeat the drill; the worst run counts")
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0, help="order of the MSRA test sentences")
    ap.add_argument(
        "--kill",
        choices=("sigkill", "sigterm", "sigstop"),
        default="sigkill",
        help="how region A is lost: killed, stopped gracefully, or frozen (SIGCONT later)",
    )
    ap.add_argument("--rolling", action="store_true", help="restart region A's servers one by one")
    ap.add_argument(
        "--with-operator",
        action="store_true",
        help="the real operator (on API emulators) decides failover/failback; nginx follows it",
    )
    ap.add_argument(
        "--client-keepalive",
        type=float,
        metavar="SECONDS",
        help="the gateway's spec.gateway.clientKeepaliveSeconds (0: Connection: close)",
    )
    ap.add_argument("--servers-per-region", type=int, default=2)
    ap.add_argument("--kill-at", type=float, default=0.25, help="fraction of requests done")
    ap.add_argument("--restart-at", type=float, default=0.35, help="fraction of requests done")
    ap.add_argument("--drain-seconds", type=float, default=1.0, help="NER_DRAIN_SECONDS")
    ap.add_argument("--work-dir", type=Path, help="keep server and nginx logs here")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--docs", type=Path, default=ROOT / "docs", help="drill.md, drill.png")
    ap.add_argument("--no-docs", action="store_true", help="only print and write the JSON")
    ap.add_argument(
        "--docs-only", action="store_true", help="rewrite drill.md from the JSON, run nothing"
    )
    args = ap.parse_args(argv)
    if args.requests < 100 or args.concurrency < 1 or args.runs < 1:
        ap.error("need --requests >= 100, --concurrency >= 1, --runs >= 1")
    if not 0 < args.kill_at < args.restart_at < 1:
        ap.error("need 0 < --kill-at < --restart-at < 1")
    return args


def _load(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.docs_only:
        args.docs.mkdir(parents=True, exist_ok=True)
        text = docs.markdown(_load(args.results).get("variants", {}))
        (args.docs / "drill.md").write_text(text, encoding="utf-8")
        print(f"wrote {args.docs / 'drill.md'} from {args.results}")
        return 0
    config = DrillConfig(
        requests=args.requests,
        concurrency=args.concurrency,
        seed=args.seed,
        kill=args.kill,
        rolling=args.rolling,
        servers_per_region=args.servers_per_region,
        kill_at=args.kill_at,
        restart_at=args.restart_at,
        drain_seconds=args.drain_seconds,
        with_operator=args.with_operator,
        client_keepalive=args.client_keepalive,
    )
    summaries: list[report.Summary] = []
    runs: list[Run] = []
    for index in range(args.runs):
        load_before = os.getloadavg()
        print(f"== drill {config.variant}, run {index + 1}/{args.runs}", file=sys.stderr)
        work_dir = None if args.work_dir is None else args.work_dir / f"{config.variant}-{index}"
        run = uvloop.run(run_drill(config, work_dir))  # the load generator needs the CPU least
        summary = report.summarize(run)
        summary["run"] = index + 1
        summary["loadavg_before"] = [round(x, 2) for x in load_before]
        summaries.append(summary)
        runs.append(run)
        print(report.table([summary], [str(index + 1)]), flush=True)
    worst = report.worst(summaries)
    labels = [str(s["run"]) for s in summaries]
    print(f"\n{config.variant}: {args.runs} runs, worst is run {worst['run']}")
    print(report.table([*summaries, worst], [*labels, "**worst**"]))
    data = _load(args.results)
    variants: dict[str, Any] = data.get("variants", {})
    variants[config.variant] = {
        "worst": worst,
        "runs": summaries,
        "measured": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpus": os.cpu_count(),
        "config": {k: v for k, v in vars(config).items() if k != "quiet"},
    }
    main_variant = variants.get("sigkill", {}).get("worst", {})
    data = {**main_variant, "variants": variants}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.results}")
    if not args.no_docs:
        if config.variant == "sigkill":  # the picture is the main drill's
            plot.timeline(
                runs[summaries.index(worst)],
                args.docs / "drill.png",
                f"drill: SIGKILL of region A, run {worst['run']} (worst of {args.runs}): "
                f"{worst['requests']} requests, {worst['lost']} lost, "
                f"switch {worst['switch_ms']} ms",
            )
        args.docs.mkdir(parents=True, exist_ok=True)
        (args.docs / "drill.md").write_text(docs.markdown(variants), encoding="utf-8")
        print(f"wrote {args.docs / 'drill.md'}")
    return 1 if any(s["lost"] for s in summaries) else 0


if __name__ == "__main__":
    sys.exit(main())
