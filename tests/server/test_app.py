"""The API contract, in-process (the model is real)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ner_inference.server.app import create_app

SENTENCE = "李克强总理在北京会见了德国总理默克尔。"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def test_single_text(client: TestClient) -> None:
    body = client.post("/predict", json={"text": SENTENCE}).json()
    spans = {(e["type"], e["span"]) for e in body["entities"]}
    assert ("PER", "李克强") in spans and ("LOC", "北京") in spans
    assert all(SENTENCE[e["start"] : e["end"]] == e["span"] for e in body["entities"])
    assert body["model"].startswith("builtin@")


def test_batch_keeps_order(client: TestClient) -> None:
    body = client.post("/predict", json={"texts": ["", SENTENCE]}).json()
    assert body["results"][0]["entities"] == []
    assert body["results"][1]["entities"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"text": "a", "texts": ["b"]}, {"texts": []}, {"text": 3}, {"text": "x" * 100_001}],
)
def test_bad_input_is_a_4xx_with_detail(client: TestClient, payload: object) -> None:
    response = client.post("/predict", json=payload)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200
