"""Hypothesis strategies for /predict bodies, and the check every answer must pass."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import event
from hypothesis import strategies as st

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
# Every code point, lone surrogates included: json.dumps escapes them as \udXXX.
ANY_CHAR = st.characters(codec=None, exclude_categories=())
NAMES = st.sampled_from(["李克强", "北京", "默克尔", "新华社", "德国", "上海市政府"])
TEXT = st.lists(st.one_of(CJK, ANY_CHAR, NAMES, st.sampled_from("。，\n 😀")), max_size=40).map(
    "".join
)
JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
PAYLOAD = st.one_of(
    st.fixed_dictionaries({"text": TEXT}),
    st.fixed_dictionaries({"texts": st.lists(TEXT, max_size=6)}),
    st.dictionaries(st.sampled_from(["text", "texts", "txt", ""]), JSON_VALUE, max_size=3),
    JSON_VALUE,
)
JSON_BODY = st.builds(
    lambda payload, ascii_only: json.dumps(payload, ensure_ascii=ascii_only).encode(
        "utf-8", "surrogatepass"
    ),
    PAYLOAD,
    st.booleans(),
)
BODY = st.one_of(JSON_BODY, JSON_BODY, JSON_BODY, st.binary(max_size=200))
CONTENT_TYPE = st.one_of(
    st.just("application/json"),
    st.just("application/json"),
    st.sampled_from(["application/json; charset=utf-8", "text/plain", "APPLICATION/JSON", ""]),
)


def check_answer(body: bytes, response: httpx.Response) -> None:
    """Never a 5xx; a 4xx says why; a 200 keeps the offset contract for every text sent."""
    assert response.status_code < 500, response.text
    event(f"status {response.status_code}")
    answer: dict[str, Any] = response.json()
    if response.status_code != 200:
        assert isinstance(answer["detail"], str) and answer["detail"]
        return
    sent = json.loads(body)
    texts = [sent["text"]] if "text" in sent and sent["text"] is not None else sent["texts"]
    results = [answer] if "entities" in answer else answer["results"]
    assert len(results) == len(texts)
    for text, result in zip(texts, results, strict=True):
        for e in result["entities"]:
            assert e["type"] in {"PER", "LOC", "ORG"}
            assert 0 <= e["start"] < e["end"] <= len(text)
            assert text[e["start"] : e["end"]] == e["span"]
