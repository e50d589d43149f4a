"""The API contract and every kind of bad input, in-process (the model is real)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ner_inference.builtin import msra
from ner_inference.server.app import create_app
from ner_inference.server.settings import Settings

from tests.server.serving import SENTENCE, ready_client

LIMITS = Settings(max_batch_texts=4, max_text_chars=200, max_body_bytes=4096)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with ready_client(create_app(LIMITS)) as c:
        yield c


def test_one_text_gives_typed_spans_with_exact_offsets(client: TestClient) -> None:
    response = client.post("/predict", json={"text": SENTENCE})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"entities", "model"}
    spans = {(e["type"], e["span"]) for e in body["entities"]}
    assert {("PER", "李克强"), ("LOC", "北京"), ("PER", "默克尔")} <= spans
    for e in body["entities"]:
        assert set(e) == {"type", "start", "end", "span"}
        assert SENTENCE[e["start"] : e["end"]] == e["span"]
    assert body["model"].startswith("builtin@")


def test_texts_are_answered_in_input_order(client: TestClient) -> None:
    texts = ["", "我爱北京。", SENTENCE, "默克尔访问了上海。"]
    body = client.post("/predict", json={"texts": texts}).json()
    assert set(body) == {"results", "model"}
    assert [len(r["entities"]) > 0 for r in body["results"]] == [False, True, True, True]
    for text, result in zip(texts, body["results"], strict=True):
        assert all(text[e["start"] : e["end"]] == e["span"] for e in result["entities"])
    assert ("LOC", "上海") in {(e["type"], e["span"]) for e in body["results"][3]["entities"]}


def test_offsets_are_python_string_indices_past_astral_characters(client: TestClient) -> None:
    text = "😀🇨🇳 李克强在北京。"
    entities = client.post("/predict", json={"text": text}).json()["entities"]
    assert ("PER", "李克强") in {(e["type"], e["span"]) for e in entities}
    assert all(text[e["start"] : e["end"]] == e["span"] for e in entities)


def test_charset_parameter_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/predict",
        content=json.dumps({"text": SENTENCE}),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


BAD_INPUT = {
    "invalid JSON": (b'{"text": "abc"', 400, "Invalid JSON"),
    "not UTF-8": (b'{"text": "\xff\xfe"}', 400, "not UTF-8"),
    "lone surrogate escape": (b'{"text": "\\ud800"}', 400, "Invalid JSON"),
    "JSON list, not object": (b'["text"]', 422, "object"),
    "text is a number": (b'{"text": 3}', 422, "text"),
    "texts is a string": (b'{"texts": "abc"}', 422, "texts"),
    "a text in texts is null": (b'{"texts": ["a", null]}', 422, "texts.1"),
    "both text and texts": (b'{"text": "a", "texts": ["b"]}', 422, "exactly one"),
    "neither text nor texts": (b"{}", 422, "exactly one"),
    "unknown field": (b'{"txt": "a"}', 422, "txt"),
    "empty batch": (b'{"texts": []}', 422, "1 to 4"),
    "batch over the limit": (json.dumps({"texts": ["a"] * 5}).encode(), 422, "1 to 4"),
    "text over the limit": (json.dumps({"text": "x" * 201}).encode(), 422, "201 characters"),
    "a batch text over the limit": (
        json.dumps({"texts": ["a", "x" * 201]}).encode(),
        422,
        "texts[1]",
    ),
    "empty body": (b"", 400, "Invalid JSON"),
}


@pytest.mark.parametrize(("body", "status", "says"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_body_is_a_4xx_that_says_what_is_wrong(
    client: TestClient, body: bytes, status: int, says: str
) -> None:
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert says in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type_is_415(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/predict", content=b'{"text": "a"}', headers={"content-type": content_type}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_body_over_the_limit_is_413_by_content_length(client: TestClient) -> None:
    body = json.dumps({"text": "x" * 5000}).encode()
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "4096 bytes" in response.json()["detail"]


def test_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    # That reading stops at the limit is shown over a real socket in test_process.py.
    def endless() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(100):
            yield b"x" * 1000

    response = client.post(
        "/predict", content=endless(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert "4096 bytes" in response.json()["detail"]


def test_wrong_method_and_unknown_path_are_json_4xx(client: TestClient) -> None:
    assert client.get("/predict").status_code == 405
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}


def test_health_ready_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["model"].startswith("builtin@")
    schema = client.get("/openapi.json").json()
    request_schema = schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert set(request_schema["application/json"]["schema"]["properties"]) == {"text", "texts"}
    assert client.get("/docs").status_code == 200


def test_metrics_count_requests_batches_and_entities(client: TestClient) -> None:
    client.post("/predict", json={"text": SENTENCE})
    client.post("/predict", json={})
    text = client.get("/metrics").text
    assert 'ner_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert 'ner_http_requests_total{method="POST",route="/predict",status="422"}' in text
    assert 'ner_http_request_duration_seconds_bucket{le="0.001",method="POST"' in text
    assert "ner_inference_batch_size_count" in text
    assert 'ner_entities_total{type="PER"}' in text
    assert "ner_model_load_seconds{backend=" in text
    assert "ner_ready 1.0" in text
    assert "ner_http_requests_in_flight" in text


def test_random_paths_share_one_metrics_label(client: TestClient) -> None:
    for path in ("/a", "/b/c", "/wp-admin"):
        client.get(path)
    text = client.get("/metrics").text
    assert 'route="other",status="404"' in text
    assert "/wp-admin" not in text


def test_the_web_page_and_its_files_are_served_by_the_app(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert int(page.headers["content-length"]) == len(page.content) > 0
    for name, media_type in (("app.js", "javascript"), ("style.css", "text/css")):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and media_type in asset.headers["content-type"]
    assert client.get("/static/../app.py").status_code == 404


def test_missing_weights_fail_health_and_readiness_with_the_reason(tmp_path: Path) -> None:
    app = create_app(Settings(model_path=str(tmp_path / "missing.pt")))
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while client.get("/ready").json()["detail"] == "model is loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ready, health = client.get("/ready"), client.get("/health")
        predict = client.post("/predict", json={"text": SENTENCE})
    assert ready.status_code == 503 and "missing.pt" in ready.json()["detail"]
    assert health.status_code == 503  # liveness fails: Kubernetes restarts the pod
    assert predict.status_code == 503 and "failed to load" in predict.json()["detail"]


def test_health_fails_while_one_batch_runs_longer_than_the_stuck_limit() -> None:
    # Several seconds of work in one batch (int8, two threads: ~100k characters/s).
    long_texts = ["".join(text for text, _ in msra.read("test")[:150])] * 48
    with ready_client(create_app(Settings(stuck_seconds=0.3))) as client:
        answers: list[int] = []
        worker = threading.Thread(
            target=lambda: answers.append(
                client.post("/predict", json={"texts": long_texts}).status_code
            )
        )
        worker.start()
        time.sleep(0.8)  # well past the 0.3 s limit, well before the batch ends
        during = client.get("/health")
        worker.join(120)
        after = client.get("/health")
    assert during.status_code == 503
    assert "inference has been running one batch" in during.json()["detail"]
    assert answers == [200]
    assert after.status_code == 200
