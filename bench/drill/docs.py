"""``docs/drill.md``, regenerated from the results after every drill: it cannot drift from them."""

from __future__ import annotations

from typing import Any

from bench.drill import report

TITLES = {
    "sigkill": "Region loss: SIGKILL of every region-A process (`make drill`)",
    "sigterm": "Graceful stop: SIGTERM of every region-A process (`--kill sigterm`)",
    "rolling": "Rolling restart of region A, one server at a time (`--rolling`)",
    "sigstop": "Hung region: SIGSTOP of every region-A process, SIGCONT later (`--kill sigstop`)",
    "sigkill+operator": "Region loss with the operator deciding (`--with-operator`)",
    "sigkill+operator+keepalive0": (
        "The same, with `clientKeepaliveSeconds: 0` (`--with-operator --client-keepalive 0`)"
    ),
}

INTRO = """\
# Disaster drill

The original design ends with a drill: `ab -n 10000 -c 50`, stop the primary region, expect a switch
in under a minute with fewer than 5 failed requests. `make drill` runs that drill for real, on
loopback, and holds it to a stricter bar: **0 lost requests** and a data-plane switch
**under 100 ms**, worst of 5 runs.

What runs (`bench/drill/`):

- **Region A and region B**: 2 real inference servers each (`python -m ner_inference.server`,
  uvicorn, built-in model, `NER_TORCH_THREADS=1` because 4 model processes share 2 cores).
- **Gateway**: the Debian nginx running the configuration that the operator's gateway renderer
  (`ner_operator.gateway.render_nginx_conf`) produces for "region A active, region B backup", in a
  private prefix on a free loopback port. The drill never writes nginx configuration itself.
- **Load**: 10,000 `POST /predict` with shuffled MSRA test sentences at concurrency 50 from
  `bench/drill/load.py`, a closed-loop asyncio HTTP/1.1 client. It sends every request exactly once
  (no client retries) and counts a request as **lost** unless the status is 200 and the body is
  complete (Content-Length or chunked framing honoured), valid JSON, with `model` and `entities`
  whose `span == text[start:end]` for the sentence sent. `ab` cannot check bodies and `wrk`'s Lua
  hooks never see requests that fail on the socket, so neither could count every request. On
  uvloop it takes about 0.1 ms of CPU per request (a few % of one core at 400 req/s, reported
  as `client_cpu_share` in the JSON), leaving the cores to the servers.
- **The loss**: when 25 % of the requests are done, every process of region A gets SIGKILL (not a
  graceful stop); at 35 % region A is started again (it answers 503 while its model loads, which
  the gateway also retries elsewhere); the run then finishes. nginx sends traffic back to region A
  once its servers' `fail_timeout` has passed and they answer.
- **Two witnesses**: the client's per-request record (start, latency, status, verdict) and nginx's
  access log (`$msec $upstream_addr $upstream_status $request_time $status`), whose last upstream
  address names the region that answered.

Columns: **lost** = non-2xx + socket errors + timeouts + truncated or invalid bodies, seen by the
client; **switch ms** = from the SIGKILL to the first 2xx answered by region B (nginx `$msec`);
**reroute ms** = from the SIGKILL to the moment nginx sent the first request to region B that
region B answered (`$msec` minus that try's `$upstream_response_time`): the data-plane switch
itself, without region B's time to compute the answer; **failback ms** = from region A being
ready again to its first answer; **max gap ms** = the longest time in which no client request
completed successfully; p50/p99 = client latency of successful requests; **nginx retries** =
requests nginx sent to more than one server before answering.
"""

HOLES = """\
## The holes this closes

Measured with nginx in front of plain uvicorn servers, a region loss loses requests three ways;
each has a fix, and the drill checks that the fixes hold ({verdict}):

1. *A SIGKILL cuts a response that is already streaming*, and the client sees a truncated 200,
   not an error. nginx has already passed the status line on and cannot retry; its access log
   even records the request as a 200, so only a client that checks every body sees the loss.
   The fix is in the server: each response goes out in one piece with a `Content-Length` (one
   send of head and body), so a kill or a freeze leaves either nothing, which nginx replays, or
   a whole answer (until commit 8bf8ec4 uvicorn sent head and body in two writes, and this
   drill lost 1 request of 50,000 that way). {truncated}
2. *nginx retries a POST only with `non_idempotent`*: the gateway sets `proxy_next_upstream error
   timeout http_502 http_503 http_504 non_idempotent` with bounded `proxy_next_upstream_tries` and
   `proxy_next_upstream_timeout`, so a request that hit a dying server is replayed on the next one
   (predict is a pure function of its input, so replaying it is safe).
3. *A keep-alive connection to a dead upstream fails on first use*: the failure is an `error`
   under `proxy_next_upstream`, so nginx moves on to the next server instead of answering 502.

The client never retries; every retry above happens inside the gateway and is counted in
"nginx retries".
"""


NOTES = {
    "sigkill": (
        "**switch** has two parts. Until the kernel has torn down a killed model process (its "
        "~0.5 GB of memory is freed before its sockets are closed: 30-70 ms measured here, idle to "
        "loaded) the dead servers still accept connections, so requests sent to them wait; that is "
        "**reroute** (SIGKILL to the first try nginx sends to region B). The rest is region B "
        "answering the burst of replayed requests that arrives at once."
    ),
    "sigterm": (
        "A draining server keeps answering (with `Connection: close`) for `NER_DRAIN_SECONDS` "
        "(1 s in the drill) and then finishes what it holds, so region B takes over when region "
        "A's servers exit: **switch** includes that drain period by design."
    ),
    "rolling": (
        "One region-A server at a time gets SIGTERM, is restarted and waits for `/ready` before "
        "the next; the other region-A server carries the traffic, so region B is not needed "
        "and **switch** does not apply."
    ),
    "sigkill+operator+keepalive0": (
        "The gateway announces `Connection: close` on every response (the NerCluster's "
        "`spec.gateway.clientKeepaliveSeconds: 0`), so an nginx reload finds no kept-alive "
        "client connection to cut: both operator switches (failover and failback) went through "
        "without a lost request, against 55 lost with keep-alive in the run above. The price is "
        "a new TCP connection per request: on this loopback setup, with the operator and its "
        "API emulators sharing the two cores, 340 instead of 387 requests/s, and the keep-alive "
        "run had 0.4 cores of other load, so the real cost is larger than that difference. "
        "Hence the default keeps keep-alive, and clients that repeat a request whose connection "
        "closed without an answer lose nothing either (docs/architecture.md)."
    ),
    "sigkill+operator": (
        "The same region loss, but the real operator (`python -m ner_operator`, against the API "
        "emulators of its tests) probes both regions every 0.5 s (`/ready` plus the golden "
        "inference), fails over after 3 bad probes and fails back after 5 good ones, a 3 s "
        "cooldown and 6 s of flap damping (the CRD defaults scaled down 4x). The drill renders "
        "the gateway again for each `status.activeRegion` the operator writes and reloads nginx. "
        "**operator failover** = SIGKILL to `activeRegion: region-b`; **operator failback** = "
        "region A ready to `activeRegion: region-a`. Traffic moved long before, inside nginx "
        "(switch). Each switch is a graceful nginx reload under load: an old worker answers "
        "the requests it holds with `Connection: keep-alive` and then closes the connection "
        "(`ngx_http_finalize_connection` skips keep-alive once the worker is exiting; nginx "
        "declined to send `Connection: close` instead, trac.nginx.org ticket 1022), so the "
        "client's next request on each busy connection is cut. The client does not retry a "
        "POST, so those requests count as lost (`connection-closed`)."
    ),
    "sigstop": (
        "Frozen processes still accept connections (the kernel completes the handshake) but never "
        "answer, like a region behind a partition that drops replies. nginx gives up on a try "
        "after the renderer's `proxy_read_timeout` (5 s) and replays it on region B, so the "
        "requests in flight at the freeze take about 5 s but arrive; after that the frozen "
        "servers are skipped for `fail_timeout` and probed again by single requests."
    ),
}


def _value(value: Any, unit: str = " ms") -> str:
    return "n/a" if value is None else f"{value}{unit}"


def _variant(name: str, entry: dict[str, Any]) -> str:
    runs = entry["runs"]
    worst = entry["worst"]
    labels = [str(s["run"]) for s in runs]
    foreign = ", ".join(str(s.get("foreign_cpu_cores", "?")) for s in runs)
    config = entry.get("config", {})
    count = f"{len(runs)} runs" if len(runs) > 1 else "1 run"
    switches = [r for r in runs if r.get("switch_ms") is not None]
    slowest = max(switches, key=lambda r: r["switch_ms"]) if switches else None
    lines = [
        f"## {TITLES.get(name, name)}",
        "",
        f"Worst of {count}: **{worst['lost']} lost** of {worst['requests']}, "
        f"switch {_value(worst['switch_ms'])}, p99 {_value(worst['p99_ms'])}, "
        f"{worst['req_per_s']} req/s (run {worst['run']})."
        + (
            f" Slowest switch of all runs: **{slowest['switch_ms']} ms** (run {slowest['run']})."
            if slowest is not None
            else ""
        ),
        "",
        report.table([*runs, worst], [*labels, "**worst**"]),
        "",
        NOTES.get(name, ""),
        "",
        f"Measured {entry.get('measured', '?')} on {entry.get('cpus', '?')} CPUs. Other work on "
        f"the machine (not the drill's processes) used {foreign} cores on average during each "
        f"run; above ~0.2 the numbers are slower than on an idle machine. Concurrency "
        f"{config.get('concurrency')}, seed {config.get('seed')}, "
        f"{config.get('servers_per_region')} servers per region. Lost requests by reason, "
        f"worst run: {worst.get('lost_by_reason') or 'none'}. Answers per region, worst run: "
        f"{worst.get('answered_by_region')}.",
        "",
    ]
    return "\n".join(lines)


def markdown(variants: dict[str, Any]) -> str:
    parts = [INTRO]
    known = ("sigkill", "sigterm", "rolling", "sigstop", "sigkill+operator")
    for name in (*known, *sorted(set(variants) - set(known))):
        if name in variants:
            parts.append(_variant(name, variants[name]))
        if name == "sigkill":
            parts.append(
                "![timeline of the worst SIGKILL run](drill.png)\n\n"
                "Top: answers per second per region (nginx log, 250 ms bins). Bottom: each "
                "request's latency at the gateway, by the region that answered; red crosses "
                "would be lost requests. Dashed lines: the kill (red) and the restart (green).\n"
            )
    lost = {name: sum(r["lost"] for r in v["runs"]) for name, v in variants.items()}
    verdict = (
        "no run above lost a request"
        if not any(lost.values())
        else "runs above lost requests: " + ", ".join(f"{n} {c}" for n, c in lost.items() if c)
    )
    truncated = sum(
        r["lost_by_reason"].get("truncated", 0) for v in variants.values() for r in v["runs"]
    )
    parts.append(
        HOLES.replace("{verdict}", verdict).replace(
            "{truncated}",
            f"**Still open here**: {truncated} answer(s) arrived truncated in the runs above; "
            "uvicorn (httptools) sends the head and the body of a response in two writes, and a "
            "kill between them is exactly this loss."
            if truncated
            else "No answer arrived truncated in the runs above.",
        )
    )
    parts.append(
        "## Run it\n\n"
        "```sh\n"
        "make drill    # SIGKILL x5, then SIGTERM x2, rolling x2, SIGSTOP x2 (about 5 min)\n"
        ".venv/bin/python -m bench.drill --runs 5    # the SIGKILL drill only\n"
        ".venv/bin/python -m bench.drill --kill sigterm --runs 1\n"
        ".venv/bin/python -m bench.drill --rolling --runs 1\n"
        ".venv/bin/python -m bench.drill --kill sigstop --runs 1\n"
        ".venv/bin/python -m bench.drill --with-operator --runs 1\n"
        ".venv/bin/python -m bench.drill --with-operator --client-keepalive 0 --runs 1\n"
        ".venv/bin/python -m bench.drill --docs-only   # rewrite drill.md from the JSON\n"
        ".venv/bin/python -m bench.drill --requests 2000 --concurrency 20 --work-dir /tmp/d\n"
        "```\n\n"
        "Every run prints progress each second and a table; the exit status is 1 if any request "
        "was lost. `tests/drill/` runs a 3,000-request version (SIGKILL and SIGTERM, drain 0.2 s) "
        "in `make test` and asserts 0 lost.\n"
    )
    return "\n".join(parts)
