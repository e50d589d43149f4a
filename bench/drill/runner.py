"""One drill run: start both regions and the gateway, load them, lose region A, bring it back."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from bench.drill import accesslog, machine
from bench.drill.control import ControlPlane
from bench.drill.gateway import RenderedGateway, render_gateway
from bench.drill.load import Outcome, Progress, run_load
from bench.drill.nginx import Nginx
from bench.drill.processes import HOST, Region, free_port, make_region, stop_all

Kill = Literal["sigkill", "sigterm", "sigstop"]
Renderer = Callable[[dict[str, list[str]], str, tuple[str, int], Path], RenderedGateway]


LOSS_SIGNALS = {
    "sigkill": signal.SIGKILL,  # a region loss: every process dies at once, mid-response
    "sigterm": signal.SIGTERM,  # a graceful stop: the servers drain, then exit
    "sigstop": signal.SIGSTOP,  # a hung region: connections open, no answer (a partition)
}


@dataclass(frozen=True)
class DrillConfig:
    requests: int = 10_000
    concurrency: int = 50
    seed: int = 0
    kill: Kill = "sigkill"
    rolling: bool = False
    servers_per_region: int = 2
    kill_at: float = 0.25  # fraction of requests completed when region A is lost
    restart_at: float = 0.35  # ... and when it is started again
    drain_seconds: float = 1.0  # NER_DRAIN_SECONDS of the servers (the SIGTERM variant)
    torch_threads: int = 1  # 4+ model processes share 2 cores
    timeout: float = 30.0  # per request, client side
    with_operator: bool = False  # the real operator decides failover and failback
    client_keepalive: float | None = None  # the gateway's clientKeepaliveSeconds
    quiet: bool = False

    @property
    def variant(self) -> str:
        name = "rolling" if self.rolling else self.kill
        name = f"{name}+operator" if self.with_operator else name
        return (
            name if self.client_keepalive is None else f"{name}+keepalive{self.client_keepalive:g}"
        )


@dataclass
class Run:
    """Everything one run observed; ``bench.drill.report`` turns it into numbers."""

    config: DrillConfig
    regions: dict[str, list[str]]  # region name -> server addresses
    outcomes: list[Outcome]
    entries: list[accesslog.Entry]
    events: list[tuple[str, float]]  # (what, wall clock)
    started: float
    finished: float
    work_dir: Path
    client_cpu_seconds: float = 0.0  # this process (the load generator) during the load
    foreign_cores: float = 0.0  # CPU cores other work used during the run (see machine.py)


def load_texts(seed: int) -> list[str]:
    from ner_inference.builtin import msra

    texts = [text for text, _ in msra.read("test")]
    random.Random(seed).shuffle(texts)
    return texts


def _say(config: DrillConfig, message: str) -> None:
    if not config.quiet:
        print(message, file=sys.stderr, flush=True)


async def _print_progress(config: DrillConfig, progress: Progress, started: float) -> None:
    last_done, last_time = 0, started
    while True:
        await asyncio.sleep(1.0)
        now = time.time()
        rate = (progress.done - last_done) / (now - last_time)
        last_done, last_time = progress.done, now
        _say(
            config,
            f"  t={now - started:5.1f}s  {progress.done:>6}/{progress.total} done"
            f"  {rate:6.0f} req/s  lost {progress.failed}",
        )


async def _schedule(
    config: DrillConfig, progress: Progress, region: Region, events: list[tuple[str, float]]
) -> None:
    def mark(what: str, at: float | None = None) -> None:
        events.append((what, time.time() if at is None else at))
        _say(config, f"  >> {what}")

    await progress.reached(int(config.requests * config.kill_at))
    if config.rolling:
        for server in region.servers:
            mark(f"stop {server.address}")
            server.signal(signal.SIGTERM)
            await server.wait_exit(config.drain_seconds + 30)
            server.start()
            mark(f"start {server.address}")
            async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
                await server.wait_ready(client, 180)
            mark(f"ready {server.address}")
        return
    lost_at = time.time()
    region.signal(LOSS_SIGNALS[config.kill])
    region.up = False
    mark(f"{config.kill} region {region.name}", lost_at)
    if config.kill == "sigstop":
        # Frozen, not dead: the kernel still accepts connections, nobody answers them.
        await progress.reached(int(config.requests * config.restart_at))
        region.signal(signal.SIGCONT)
        mark(f"sigcont region {region.name}")
    else:
        await region.wait_exit(config.drain_seconds + 30)
        mark(f"region {region.name} down")
        await progress.reached(int(config.requests * config.restart_at))
        region.start()
        mark(f"restart region {region.name}")
    await region.wait_ready(180)
    mark(f"region {region.name} ready")


@contextlib.contextmanager
def _work_dir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="ner-drill-") as tmp:
        yield Path(tmp)


async def run_drill(
    config: DrillConfig,
    work_dir: Path | None = None,
    render: Renderer | None = None,
) -> Run:
    with _work_dir(work_dir) as root:
        machine_before = machine.Sample.now()
        stack = contextlib.AsyncExitStack()
        logs = root / "servers"
        logs.mkdir(exist_ok=True)
        env = {
            "NER_TORCH_THREADS": str(config.torch_threads),
            "OMP_NUM_THREADS": str(config.torch_threads),
            "NER_DRAIN_SECONDS": str(config.drain_seconds),
        }
        region_a = make_region("region-a", config.servers_per_region, logs, env)
        region_b = make_region("region-b", config.servers_per_region, logs, env)
        regions = {r.name: r.addresses for r in (region_a, region_b)}
        listen = (HOST, free_port())
        gateway = (render or render_gateway)(
            regions, region_a.name, listen, root / "nginx", config.client_keepalive
        )
        nginx = Nginx(root / "nginx", gateway.conf, listen)
        texts = load_texts(config.seed)
        try:
            _say(config, f"starting {2 * config.servers_per_region} inference servers ...")
            clock = time.monotonic()
            region_a.start()
            region_b.start()
            await asyncio.gather(region_a.wait_ready(), region_b.wait_ready())
            _say(config, f"  ready in {time.monotonic() - clock:.1f} s: {regions}")
            nginx.start()
            _say(config, f"nginx on {listen[0]}:{listen[1]} ({gateway.access_log})")
            progress = Progress(config.requests)
            events: list[tuple[str, float]] = []
            background = []
            if config.with_operator:
                control = ControlPlane(root / "operator")
                stack.push_async_callback(control.close)
                _say(config, "starting the operator and the API emulators ...")
                await control.start({name: f"http://{addrs[0]}" for name, addrs in regions.items()})
                up = {r.name: r for r in (region_a, region_b)}

                async def switch(active: str) -> None:
                    seen = time.time()
                    conf = (render or render_gateway)(
                        regions, active, listen, root / "nginx", config.client_keepalive
                    ).conf
                    await asyncio.to_thread(nginx.reload, conf)
                    events.append((f"operator: {active} active", seen))
                    events.append((f"nginx reloaded: {active} primary", time.time()))
                    _say(config, f"  >> operator: {active} active; nginx reloaded")

                background.append(control.follow(switch, region_a.name))
                background.append(control.kubelet(lambda name: up[name].up))
            started = time.time()
            cpu_before = time.process_time()
            printer = asyncio.create_task(_print_progress(config, progress, started))
            schedule = asyncio.create_task(_schedule(config, progress, region_a, events))
            tasks = [asyncio.create_task(coroutine) for coroutine in background]
            try:
                outcomes = await run_load(
                    listen[0],
                    listen[1],
                    texts,
                    progress,
                    concurrency=config.concurrency,
                    request_timeout=config.timeout,
                )
                finished = time.time()
                client_cpu = time.process_time() - cpu_before
                await asyncio.wait_for(schedule, timeout=240)
            finally:
                for task in (printer, schedule, *tasks):
                    task.cancel()
        finally:
            nginx.stop()
            stop_all([region_a, region_b])
            await stack.aclose()
        foreign = machine.foreign_cores(machine_before, machine.Sample.now())
        entries = [e for e in accesslog.parse(gateway.access_log, gateway.log_format)]
        entries = [e for e in entries if e.msec >= started - 0.001]
        return Run(
            config, regions, outcomes, entries, events, started, finished, root, client_cpu, foreign
        )
