"""The RaNER backend on a tiny model built here in the hub model's directory layout.

The real weights cannot be downloaded here, so these tests prove the loading code, the
modelscope pipeline call and the mapping to our entity schema, not accuracy: the tiny
model's output layer is set so that it tags every token with one chosen label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("modelscope")

from ner_inference.entities import Entity
from ner_inference.raner import WINDOW, RanerBackend, entities_of, load, write_random_model

from tests.server.serving import server_process, wait_ready

HUB_FILES = {"configuration.json", "config.json", "pytorch_model.bin", "vocab.txt"}
LABELS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
LABELS += ["B-ORG", "I-ORG", "E-ORG", "S-ORG", "B-GPE", "I-GPE", "E-GPE", "S-GPE"]
CHARS = "李克强总理在北京会见了德国默克尔。人民银行上海"


def build_tiny_raner(directory: Path, label: str) -> Path:
    """Random weights, a tiny vocabulary, the hub's files; every token is tagged ``label``."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = specials + list(CHARS) + ["hello", "##lo", "hel", "world"]

    def tag_everything(model: Any) -> None:
        model.head.linear.weight.zero_()
        model.head.linear.bias.fill_(-10.0)
        model.head.linear.bias[LABELS.index(label)] = 10.0
        for name in ("transitions", "start_transitions", "end_transitions"):
            getattr(model.head.crf, name).zero_()

    return write_random_model(
        directory,
        vocab,
        LABELS,
        hidden_size=16,
        layers=1,
        heads=2,
        intermediate_size=32,
        adjust=tag_everything,
    )


@pytest.fixture(scope="module")
def loc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_raner(tmp_path_factory.mktemp("raner") / "tiny-raner-loc", "S-LOC")


@pytest.fixture(scope="module")
def every_token_loc(loc_dir: Path) -> RanerBackend:
    return load(str(loc_dir), threads=1)


def test_loads_the_hub_layout_through_the_modelscope_pipeline(
    loc_dir: Path, every_token_loc: RanerBackend
) -> None:
    assert {path.name for path in loc_dir.iterdir()} == HUB_FILES
    assert every_token_loc.name == "raner"
    assert every_token_loc.version == "tiny-raner-loc"
    assert every_token_loc.load_seconds > 0
    assert type(every_token_loc._pipe).__name__ == "NamedEntityRecognitionPipeline"


def test_tokens_become_entities_with_offsets_into_the_original_text(
    every_token_loc: RanerBackend,
) -> None:
    text = "李克强 Hello😀北京"
    [entities] = every_token_loc.predict([text])
    # One entity per BERT token: the emoji is [UNK], "Hello" is lower-cased inside the
    # tokenizer, yet spans are the original characters.
    assert [(e.type, e.span) for e in entities] == [
        ("LOC", "李"),
        ("LOC", "克"),
        ("LOC", "强"),
        ("LOC", "Hello"),
        ("LOC", "北"),
        ("LOC", "京"),
    ]
    assert all(text[e.start : e.end] == e.span for e in entities)


def test_long_texts_are_windowed_and_offsets_shifted(every_token_loc: RanerBackend) -> None:
    text = "北京" * WINDOW  # two and a bit windows, no punctuation to cut at
    [entities] = every_token_loc.predict([text])
    assert [(e.start, e.end) for e in entities] == [(i, i + 1) for i in range(len(text))]
    assert "".join(e.span for e in entities) == text


def test_texts_without_tokens_and_batches_keep_their_order(every_token_loc: RanerBackend) -> None:
    texts = ["", "   ", "\u200d\x00", "上海", "\n\n", "默克尔"]
    results = every_token_loc.predict(texts)
    assert [[e.span for e in found] for found in results] == [
        [],
        [],
        [],
        ["上", "海"],
        [],
        ["默", "克", "尔"],
    ]


def test_labels_outside_per_loc_org_are_dropped(tmp_path: Path) -> None:
    backend = load(str(build_tiny_raner(tmp_path / "gpe", "S-GPE")), threads=1)
    assert backend.predict(["李克强在北京"]) == [[]]


def test_entities_of_maps_types_and_rejects_bad_offsets() -> None:
    text = "李克强在北京"
    chunks = [
        {"type": "per", "start": 0, "end": 3, "span": "李克强"},
        {"type": "LOC", "start": 4, "end": 6, "span": "北京"},
        {"type": "GPE", "start": 4, "end": 6, "span": "北京"},
        {"type": "ORG", "start": 5, "end": 9, "span": "京"},  # past the end
        {"type": "ORG", "start": 3, "end": 3, "span": ""},  # empty
        {"type": "ORG", "start": 0, "end": 2, "span": "别的"},  # disagrees with the text
    ]
    assert entities_of(text, chunks) == [
        Entity("PER", 0, 3, "李克强"),
        Entity("LOC", 4, 6, "北京"),
    ]


@pytest.mark.integration
def test_the_server_serves_raner_from_a_mounted_model_directory(loc_dir: Path) -> None:
    raner = {"NER_BACKEND": "raner", "NER_MODEL_PATH": str(loc_dir), "NER_TORCH_THREADS": "1"}
    with server_process(**raner) as server, server.client() as client:
        wait_ready(client, 120)
        response = client.post("/predict", json={"text": "上海 北京"})
        assert response.status_code == 200
        body = response.json()
        assert body["model"] == "raner@tiny-raner-loc"
        assert [(e["type"], e["start"], e["end"], e["span"]) for e in body["entities"]] == [
            ("LOC", 0, 1, "上"),
            ("LOC", 1, 2, "海"),
            ("LOC", 3, 4, "北"),
            ("LOC", 4, 5, "京"),
        ]
