"""The HTTP server under load: requests/s and latency at concurrency 50, one MSRA test
sentence per request; and batch requests (32 texts each) in sentences/s.

    python bench/serve.py [--seconds 20] [--concurrency 50]

Starts the server as ``make run`` does (``python -m ner_inference.server``, NER_* settings
from the environment pass through) on a free loopback port, drives it with ``wrk`` (a Lua
script cycles through the test sentences, every request is real inference on its own
text), and measures the model's own batch-32 throughput in-process for comparison.
Prints a table and writes bench/results/serve.json. ``wrk`` runs on the same machine and
takes CPU from the server: numbers are pessimistic for a pod with two cores to itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ner_inference.builtin import load, msra
from ner_inference.server.settings import Settings

RESULTS = Path(__file__).parent / "results" / "serve.json"

# wrk's Lua: cycle through one JSON body per line; report as JSON when done.
WRK_SCRIPT = r"""
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local headers = {["Content-Type"] = "application/json"}
local n = 0
function setup(thread) thread:set("offset", math.random(#bodies)) end
function request()
  n = n + 1
  return wrk.format("POST", "/predict", headers, bodies[(offset + n) % #bodies + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NER_HOST": "127.0.0.1", "NER_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-m", "ner_inference.server"], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError):
            pass
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not become ready in 60 s")


def run_wrk(port: int, bodies: list[str], concurrency: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        body_file, script = Path(tmp) / "bodies.jsonl", Path(tmp) / "post.lua"
        body_file.write_text("\n".join(bodies) + "\n", encoding="utf-8")
        script.write_text(WRK_SCRIPT)
        out = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", str(script),
             "--timeout", "10s", f"http://127.0.0.1:{port}/predict"],
            env={**os.environ, "BENCH_BODIES": str(body_file)},
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    match = re.search(r"^RESULT (.*)$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no result from wrk:\n{out}")
    raw = json.loads(match.group(1))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "concurrency": concurrency,
        "seconds": round(seconds_run, 1),
        "requests": raw["requests"],
        "req_per_s": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "errors": raw["non_2xx"] + sum(raw[k] for k in ("connect", "read", "write", "timeout")),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mean_batch_size(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    total = float(re.search(r"^ner_inference_batch_size_sum (\S+)", text, re.M)[1])  # type: ignore[index]
    count = float(re.search(r"^ner_inference_batch_size_count (\S+)", text, re.M)[1])  # type: ignore[index]
    return total / count if count else 0.0


def model_batch32(texts: list[str], seconds: float) -> tuple[float, float]:
    """The model alone, in this process, with the server's threads and int8 setting:
    sentences/s and CPU milliseconds per sentence."""
    settings = Settings()
    model = load(threads=settings.threads(), quantize=settings.int8)
    model.predict(texts[:64])
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        model.predict(texts[done % 3000 : done % 3000 + 32])
        done += 32
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return done / elapsed, 1000 * cpu / done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="each wrk run")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--batch-concurrency", type=int, default=4)
    ap.add_argument(
        "--runs", type=int, default=3, help="single-sentence wrk runs; the median one is reported"
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    texts = [text for text, _ in msra.read("test")]
    random.Random(0).shuffle(texts)
    load_before = os.getloadavg()[0]
    model_sps, model_cpu_ms = model_batch32(texts, min(args.seconds, 10.0))

    single = [json.dumps({"text": t}, ensure_ascii=False) for t in texts]
    batches = [
        json.dumps({"texts": texts[i : i + 32]}, ensure_ascii=False)
        for i in range(0, len(texts) - 31, 32)
    ]
    port = free_port()
    server = start_server(port)
    try:
        run_wrk(port, single, args.concurrency, 3)  # warm-up
        # This machine's speed drifts from minute to minute: report the median of several
        # runs, list them all, and count every error of every run.
        runs = []
        for _ in range(max(1, args.runs)):
            cpu_before = cpu_seconds(server.pid)
            run = run_wrk(port, single, args.concurrency, args.seconds)
            run["server_cpu_ms_per_req"] = round(
                1000 * (cpu_seconds(server.pid) - cpu_before) / run["requests"], 3
            )
            runs.append(run)
        one = dict(sorted(runs, key=lambda r: r["req_per_s"])[len(runs) // 2])
        one["errors"] = sum(r["errors"] for r in runs)
        one["runs"] = [{k: r[k] for k in ("req_per_s", "p50_ms", "p99_ms", "errors")} for r in runs]
        one["mean_batch_size"] = round(mean_batch_size(port), 1)
        batch = run_wrk(port, batches, args.batch_concurrency, args.seconds)
        batch["sent_per_s"] = round(batch["req_per_s"] * 32, 1)
    finally:
        server.terminate()
        server.wait(60)

    result = {
        **one,
        "batch32": batch,
        "model_batch32_sent_per_s": round(model_sps, 1),
        "model_cpu_ms_per_sentence": round(model_cpu_ms, 3),
        "server_to_model_ratio": round(one["req_per_s"] / model_sps, 2),
        # Load-independent: the model's CPU per sentence over the server's CPU per request.
        "cpu_efficiency": round(model_cpu_ms / one["server_cpu_ms_per_req"], 2),
        "loadavg_1m_before": round(load_before, 2),
        "cpus": os.cpu_count(),
        "settings": {k: v for k, v in os.environ.items() if k.startswith("NER_")},
    }
    print(f"server, {os.cpu_count()} cores, wrk on the same machine, load before {load_before:.2f}")
    print(f"{'load':<34} {'req/s':>8} {'sent/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7}")
    print(
        f"{f'1 sentence/request, c={args.concurrency}':<34} {one['req_per_s']:>8} "
        f"{one['req_per_s']:>8} {one['p50_ms']:>7} {one['p99_ms']:>7} {one['errors']:>7}"
    )
    print(
        f"{f'32 sentences/request, c={args.batch_concurrency}':<34} {batch['req_per_s']:>8} "
        f"{batch['sent_per_s']:>8} {batch['p50_ms']:>7} {batch['p99_ms']:>7} {batch['errors']:>7}"
    )
    print(f"{'model alone, batch 32, in-process':<34} {'':>8} {round(model_sps, 1):>8}")
    for i, r in enumerate(one["runs"], 1):
        print(f"  run {i}: {r['req_per_s']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
    print(
        f"server/model ratio: {result['server_to_model_ratio']}, "
        f"mean batch {one['mean_batch_size']} texts"
    )
    # CPU time per unit of work hardly depends on what else runs on the machine.
    print(
        f"CPU per request, server (HTTP + batching + model): {one['server_cpu_ms_per_req']} ms; "
        f"CPU per sentence, model alone: {round(model_cpu_ms, 3)} ms "
        f"(efficiency {result['cpu_efficiency']})"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
