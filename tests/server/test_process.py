"""The server as Kubernetes runs it: ``python -m ner_inference.server`` over real HTTP."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from ner_inference.builtin import msra

from tests.server.serving import (
    SENTENCE,
    RunningServer,
    server_process,
    wait_listening,
    wait_ready,
)

pytestmark = pytest.mark.integration


def test_ready_is_503_while_the_model_loads_then_200() -> None:
    with server_process(NER_LOG_JSON="true") as server:
        wait_listening(server)
        with server.client() as http:
            first_ready = http.get("/ready")
            health = http.get("/health")
            early_predict = http.post("/predict", json={"text": SENTENCE})
            wait_ready(http)
            assert http.post("/predict", json={"text": SENTENCE}).status_code == 200
        server.process.send_signal(signal.SIGINT)  # Ctrl+C: no drain period
        server.process.wait(10)
        log = server.process.communicate()[0]
    assert first_ready.status_code == 503
    assert first_ready.json() == {"detail": "model is loading"}
    assert health.status_code == 200 and health.json() == {"status": "loading"}
    assert early_predict.status_code == 503 and early_predict.headers["retry-after"] == "1"
    records = [json.loads(line) for line in log.splitlines()]
    assert any("ready" in r["message"] and r["logger"] == "ner_inference.server" for r in records)


def test_sigterm_turns_unready_serves_on_for_the_drain_period_and_loses_nothing() -> None:
    drain = 3.0
    texts = [text for text, _ in msra.read("test")[:400]]
    with server_process(NER_DRAIN_SECONDS=str(drain)) as server, server.client() as probe:
        wait_ready(probe)
        outcomes: list[tuple[float, int | str]] = []
        stop_at = [float("inf")]

        def client_loop(worker: int) -> None:
            with server.client() as http:
                n = worker
                while time.monotonic() < stop_at[0]:
                    text = texts[n % len(texts)]
                    n += 8
                    try:
                        response = http.post("/predict", json={"text": text})
                        ok = response.status_code == 200 and all(
                            text[e["start"] : e["end"]] == e["span"]
                            for e in response.json()["entities"]
                        )
                        outcomes.append((time.monotonic(), 200 if ok else response.status_code))
                    except httpx.HTTPError as error:
                        outcomes.append((time.monotonic(), repr(error)))

        workers = [threading.Thread(target=client_loop, args=(i,)) for i in range(8)]
        for worker in workers:
            worker.start()
        time.sleep(1.0)
        sigterm_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        during_drain = probe.get("/ready")
        # Kubernetes stops routing to the pod within the drain period; so do these clients.
        stop_at[0] = sigterm_at + drain - 1.0
        for worker in workers:
            worker.join(30)
        health_during_drain = probe.get("/health").status_code
        code = server.process.wait(drain + 30)
        exited_after = time.monotonic() - sigterm_at

    failures = [outcome for _, outcome in outcomes if outcome != 200]
    after_sigterm = [t for t, _ in outcomes if t > sigterm_at]
    assert not failures, failures[:5]
    assert len(after_sigterm) > 20  # load really continued through the drain
    assert during_drain.status_code == 503
    assert during_drain.json() == {"detail": "draining: the server is shutting down"}
    assert during_drain.headers["connection"] == "close"
    assert health_during_drain == 200
    assert code == 0
    assert drain <= exited_after < drain + 10


def test_a_request_in_flight_when_the_drain_ends_completes() -> None:
    sentences = [text for text, _ in msra.read("test")[:1280]]
    # 1,024 texts of ten sentences each: several seconds of work, far longer than the drain.
    texts = ["".join(sentences[i % 128 * 10 : i % 128 * 10 + 10]) for i in range(1024)]
    drain = 0.3
    with server_process(NER_DRAIN_SECONDS=str(drain), NER_MAX_BATCH_TEXTS="1024") as server:
        with server.client() as http:
            wait_ready(http)
            result: list[httpx.Response] = []
            request = threading.Thread(
                target=lambda: result.append(http.post("/predict", json={"texts": texts}))
            )
            request.start()
            time.sleep(0.2)
            sigterm_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            request.join(120)
            answered_after = time.monotonic() - sigterm_at
        assert server.process.wait(30) == 0
    assert answered_after > drain  # still running when the drain period ended
    assert result[0].status_code == 200
    assert len(result[0].json()["results"]) == len(texts)


@pytest.fixture(scope="module")
def small_limits() -> Iterator[RunningServer]:
    with server_process(NER_MAX_BODY_BYTES="4096") as server:
        with server.client() as http:
            wait_ready(http)
        yield server


def address(server: RunningServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response, which must carry a Content-Length; leftovers stay in buffer."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a full response head"
        buffer += chunk
    head, _, _ = bytes(buffer).partition(b"\r\n\r\n")
    del buffer[: len(head) + 4]
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    assert "transfer-encoding" not in headers
    length = int(headers["content-length"])
    while len(buffer) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a response body"
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return int(status_line.split()[1]), headers, body


def test_every_response_has_a_content_length_on_one_kept_alive_connection(
    small_limits: RunningServer,
) -> None:
    predict = json.dumps({"text": SENTENCE}, ensure_ascii=False).encode()
    requests = [
        (b"GET /health", b"", 200),
        (b"GET /ready", b"", 200),
        (b"POST /predict", predict, 200),
        (b"POST /predict", b'{"text": 1}', 422),
        (b"POST /predict", b"{", 400),
        (b"POST /predict", b"x" * 5000, 413),
        (b"GET /nope", b"", 404),
        (b"GET /metrics", b"", 200),
        (b"POST /predict", predict, 200),
    ]
    with socket.create_connection(address(small_limits), timeout=10) as sock:
        buffer = bytearray()
        for line, body, expected in requests:
            sock.sendall(
                line + b" HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            status, headers, answer = read_response(sock, buffer)
            assert status == expected, answer
            if expected == 413:
                break  # the unread body makes the server close this connection
            assert headers.get("connection") != "close"
    assert "李克强" in answer.decode() or expected == 413


def test_a_streamed_body_is_refused_once_it_passes_the_limit(small_limits: RunningServer) -> None:
    with socket.create_connection(address(small_limits), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        sock.settimeout(0.05)
        answer = b""
        while sent < 10_000_000 and not answer:  # 10 MB if the server kept reading
            try:
                sock.sendall(b"400\r\n" + b"x" * 1024 + b"\r\n")
                sent += 1024
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(10)
        status, _, body = read_response(sock, bytearray(answer))
    assert status == 413
    assert b"4096 bytes" in body
    assert sent < 200_000


def test_a_huge_declared_length_is_refused_before_the_body(small_limits: RunningServer) -> None:
    with socket.create_connection(address(small_limits), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n"
        )
        status, _, body = read_response(sock, bytearray())
    assert status == 413
    assert json.loads(body) == {"detail": "request body is larger than the limit of 4096 bytes"}


def test_without_a_drain_period_sigterm_exits_at_once_and_cleanly() -> None:
    with server_process(NER_DRAIN_SECONDS="0") as server, server.client() as http:
        wait_ready(http)
        sigterm_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(15) == 0
        assert time.monotonic() - sigterm_at < 5
