"""The shipped built-in model, through its public API."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ner_inference.builtin import BuiltinModel, load, msra
from ner_inference.builtin.model import WINDOW
from ner_inference.entities import ENTITY_TYPES, Entity

SENTENCE = "李克强总理在北京会见了德国总理默克尔。"


def _keys(entities: list[Entity]) -> set[tuple[str, str]]:
    return {(e.type, e.span) for e in entities}


def _assert_exact(text: str, entities: list[Entity]) -> None:
    for e in entities:
        assert e.type in ENTITY_TYPES
        assert 0 <= e.start < e.end <= len(text)
        assert text[e.start : e.end] == e.span


def test_known_sentence(model: BuiltinModel) -> None:
    [found] = model.predict([SENTENCE])
    assert _keys(found) == {("PER", "李克强"), ("LOC", "北京"), ("LOC", "德国"), ("PER", "默克尔")}
    _assert_exact(SENTENCE, found)


def test_organisations(model: BuiltinModel) -> None:
    [found] = model.predict(["新华社记者从中国人民银行获悉，北京大学将与清华大学合作。"])
    orgs = {e.span for e in found if e.type == "ORG"}
    assert {"新华社", "中国人民银行", "北京大学", "清华大学"} <= orgs


def test_empty_and_blank_texts_give_no_entities(model: BuiltinModel) -> None:
    assert model.predict(["", " ", "\n\n"]) == [[], [], []]
    assert model.predict([]) == []


def test_batch_answers_equal_single_answers(model: BuiltinModel) -> None:
    texts = [SENTENCE, "", "张三去了上海。", SENTENCE * 3, "外交部发言人表示"]
    assert model.predict(texts) == [model.predict([t])[0] for t in texts]


def test_parallel_tagging_equals_serial_tagging() -> None:
    """Two threads tag different batches side by side; the answers must not change."""
    texts = [text for text, _ in msra.read("test")[:300]]
    serial, parallel = load(threads=1), load(threads=2)
    assert parallel.parallelism == 2
    assert parallel.predict(texts) == serial.predict(texts)


def test_offsets_survive_surrounding_unicode(model: BuiltinModel) -> None:
    # İ and ẞ change length under lower(); ﬁ under NFKC.
    prefix = "😀👩‍👩‍👧 Ｆｕｌｌ ｗｉｄｔｈ ９９ e\u0301\x00\t\r\n İstanbul ẞ ﬁ "
    [found] = model.predict([prefix + SENTENCE])
    _assert_exact(prefix + SENTENCE, found)
    assert _keys(found) >= {("PER", "李克强"), ("LOC", "北京"), ("PER", "默克尔")}
    for e in found:  # whatever the model makes of the prefix, no span is padded with noise
        assert e.span == e.span.strip() and "\n" not in e.span and "😀" not in e.span


def test_long_text_is_chunked_with_exact_offsets(model: BuiltinModel) -> None:
    copies = 40  # far beyond one window
    text = SENTENCE * copies
    assert len(text) > 4 * WINDOW
    [found] = model.predict([text])
    _assert_exact(text, found)
    per = [e for e in found if e.span == "李克强"]
    assert [e.start for e in per] == [i * len(SENTENCE) for i in range(copies)]


def test_a_text_without_punctuation_is_cut_at_the_window(model: BuiltinModel) -> None:
    text = "李克强" + "啊" * (WINDOW - 1) + "默克尔在北京"
    [found] = model.predict([text])
    _assert_exact(text, found)
    assert ("LOC", "北京") in _keys(found)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=300), max_size=4), st.sampled_from(["", SENTENCE, "北京大学"]))
def test_any_unicode_keeps_offsets_exact(model: BuiltinModel, texts: list[str], seed: str) -> None:
    texts = [seed + t + seed for t in texts]
    results = model.predict(texts)
    assert len(results) == len(texts)
    for text, found in zip(texts, results, strict=True):
        _assert_exact(text, found)
        spans = sorted((e.start, e.end) for e in found)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "overlap"
