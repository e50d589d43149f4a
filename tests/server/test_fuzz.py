"""Property-based fuzz of POST /predict: thousands of bodies, not one 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from ner_inference.server.app import create_app
from ner_inference.server.settings import Settings

from tests.server.fuzzing import BODY, CONTENT_TYPE, check_answer
from tests.server.serving import ready_client, server_process, wait_ready

# Small limits, so that the fuzz reaches every limit branch too.
LIMITS = {"max_batch_texts": 4, "max_text_chars": 30, "max_body_bytes": 300}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with ready_client(create_app(Settings(**LIMITS))) as c:  # type: ignore[arg-type]
        yield c


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODY, content_type=CONTENT_TYPE)
def test_in_process(client: TestClient, body: bytes, content_type: str) -> None:
    response = client.post("/predict", content=body, headers={"content-type": content_type})
    check_answer(body, response)


@pytest.mark.integration
def test_over_http() -> None:
    env = {f"NER_{key.upper()}": str(value) for key, value in LIMITS.items()}
    with server_process(**env) as server, server.client() as http:
        wait_ready(http)

        @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=BODY, content_type=CONTENT_TYPE)
        def one_request(body: bytes, content_type: str) -> None:
            response = http.post("/predict", content=body, headers={"content-type": content_type})
            check_answer(body, response)

        one_request()
        assert http.get("/health").status_code == 200
