"""Distillation: an ensemble of taggers labels unlabeled news, a student trains on it."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from ner_inference.builtin import DEFAULT_WEIGHTS, BuiltinModel, load, msra
from ner_inference.builtin.crf import SoftTags, Targets
from ner_inference.builtin.distill import Ensemble, main, read_soft, write_soft
from ner_inference.builtin.encoding import collate
from ner_inference.builtin.tags import TAG_INDEX, allowed_transition, entities_from_tags
from ner_inference.builtin.train import main as train
from ner_inference.builtin.unlabeled import OVERLAP, Source, sentences

TEXTS = [
    "李克强总理在北京会见了德国总理默克尔。",
    "中国人民银行行长易纲出席了在上海举行的陆家嘴论坛。",
    "霍英东马万祺朱光亚万国权出席会议。",
]


def entities(texts: list[str], tags: list[list[str]]) -> list[list[tuple[str, int, int]]]:
    return [
        [(e.type, e.start, e.end) for e in entities_from_tags(text, sequence)]
        for text, sequence in zip(texts, tags, strict=True)
    ]


def predicted(model: BuiltinModel, texts: list[str]) -> list[list[tuple[str, int, int]]]:
    return [[(e.type, e.start, e.end) for e in found] for found in model.predict(texts)]


def test_an_ensemble_of_one_model_or_of_its_copies_tags_as_the_model(
    model: BuiltinModel,
) -> None:
    """Summed scores of identical members have the same best path as one member."""
    expected = predicted(model, TEXTS)
    assert entities(TEXTS, Ensemble([model]).tag(TEXTS)) == expected
    assert entities(TEXTS, Ensemble([model, model, model]).tag(TEXTS)) == expected


def test_ensemble_decodes_well_formed_tags_from_different_members(
    model: BuiltinModel, tmp_path: Path
) -> None:
    weights = tmp_path / "small.pt"
    train(
        [
            *["--run-dir", str(tmp_path / "run"), "--export", str(weights)],
            *["--max-sentences", "60", "--epochs", "1", "--quiet"],
        ]
    )
    ensemble = Ensemble([model, load(weights)])
    for text, tags in zip(TEXTS, ensemble.tag(TEXTS), strict=True):
        assert len(tags) == len(text)
        padded = ["O", *tags, "O"]  # O around a sequence: it starts and ends well-formed
        assert all(allowed_transition(a, b) for a, b in pairwise(padded))


def test_an_empty_ensemble_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        Ensemble([])


@pytest.mark.parametrize("source", ["people-daily", "inews"])
def test_silver_file_holds_the_teachers_tags_on_news_text(
    model: BuiltinModel, tmp_path: Path, source: Source
) -> None:
    out = tmp_path / "silver.txt"
    main(
        [
            "--teacher",
            str(DEFAULT_WEIGHTS),
            "--out",
            str(out),
            "--sentences",
            "40",
            "--text",
            source,
        ]
    )
    silver = msra.parse(out.read_text(encoding="utf-8").splitlines())
    assert len(silver) == 40
    news = set(sentences(source, 8, 100))
    texts = [text for text, _ in silver]
    assert all(text in news for text in texts)  # whole news sentences, no MSRA text
    assert all(len(tags) == len(text) for text, tags in silver)
    assert entities(texts, [tags for _, tags in silver]) == predicted(model, texts)
    assert any(tags.count("O") < len(tags) for _, tags in silver)  # entities were found


def test_student_starts_from_the_given_weights_and_trains_on_silver(tmp_path: Path) -> None:
    silver = tmp_path / "silver.txt"
    silver.write_text("翡 B-LOC\n翠 M-LOC\n湖 E-LOC\n很 O\n美 O\n\n" * 20, encoding="utf-8")
    run, weights = tmp_path / "run", tmp_path / "student.pt"
    train(
        [
            *["--run-dir", str(run), "--export", str(weights), "--init", str(DEFAULT_WEIGHTS)],
            *["--silver", str(silver), "--max-sentences", "40", "--epochs", "1", "--quiet"],
        ]
    )
    student, teacher = load(weights), load(DEFAULT_WEIGHTS)
    assert student.version == "msra+silver-e1"
    assert student.encoder.chars.items == teacher.encoder.chars.items
    assert student.encoder.bigrams.items == teacher.encoder.bigrams.items
    [entry] = json.loads((run / "history.json").read_text())
    assert "dev_f1" in entry  # dev stays gold MSRA: silver never joins it
    # The silver sentence is now likelier under the student than under its start.
    assert silver_loss(student, "翡翠湖很美", ["B-LOC", "M-LOC", "E-LOC", "O", "O"]) < silver_loss(
        teacher, "翡翠湖很美", ["B-LOC", "M-LOC", "E-LOC", "O", "O"]
    )


def test_silver_vocab_gives_silver_only_characters_their_own_rows(tmp_path: Path) -> None:
    """Without --silver-vocab a character seen only in silver text shares the unknown row;
    with it, the character gets its own (learnt from the silver tags)."""
    silver = tmp_path / "silver.txt"
    silver.write_text("鹦 B-LOC\n鹉 M-LOC\n湖 E-LOC\n很 O\n美 O\n\n" * 3, encoding="utf-8")
    gold = "".join(text for text, _ in msra.read("train")[:40])
    assert "鹦" not in gold

    def chars(*flags: str) -> dict[str, int]:
        run = tmp_path / f"run{len(flags)}"
        weights = run / "model.pt"
        train(
            [
                *["--run-dir", str(run), "--export", str(weights), "--silver", str(silver)],
                *["--max-sentences", "40", "--epochs", "1", "--quiet", *flags],
            ]
        )
        return load(weights).encoder.chars.index

    assert "鹦" not in chars()
    assert "鹦" in chars("--silver-vocab")


def test_soft_silver_holds_the_ensembles_tag_distribution(tmp_path: Path) -> None:
    out, soft = tmp_path / "silver.txt", tmp_path / "soft.pt"
    teachers = ["--teacher", str(DEFAULT_WEIGHTS)] * 2
    main([*teachers, "--out", str(out), "--soft", str(soft), "--sentences", "40"])
    silver = msra.parse(out.read_text(encoding="utf-8").splitlines())
    distributions = read_soft(soft)
    assert [text for text, _ in distributions] == [text for text, _ in silver]
    agree = total = 0
    for (text, tags), (_, (probs, transitions)) in zip(silver, distributions, strict=True):
        assert probs.shape == (len(text), len(TAG_INDEX))
        assert torch.allclose(probs.float().sum(1), torch.ones(len(text)), atol=1e-2)
        assert float(transitions.sum()) == pytest.approx(len(text) - 1, abs=1e-2)
        best = probs.float()[torch.arange(len(text)), [TAG_INDEX[t] for t in tags]]
        agree, total = agree + int((best > 0.5).sum()), total + len(text)
    # The distribution peaks on the best path almost everywhere, and is not only that path.
    assert agree / total > 0.95
    assert any(float(probs.float().max(1).values.min()) < 0.9 for _, (probs, _) in distributions)


def test_student_learns_a_soft_target_distribution(tmp_path: Path) -> None:
    """Trained on "翡翠湖很美" as 80 % a place, 20 % no entity, the student puts more
    probability on that mixture than its starting weights."""
    text = "翡翠湖很美"
    place, nothing = ["B-LOC", "M-LOC", "E-LOC", "O", "O"], ["O"] * 5
    paths = torch.tensor([[TAG_INDEX[t] for t in place], [TAG_INDEX[t] for t in nothing]])
    both = Targets.from_tags(paths, torch.ones(2, 5, dtype=torch.bool))
    weights = torch.tensor([0.8, 0.2])
    mixture = SoftTags(
        (both.tags * weights[:, None, None]).sum(0).half(),
        (both.transitions * weights[:, None, None]).sum(0),
    )
    soft = tmp_path / "soft.pt"
    write_soft(soft, [text] * 20, [mixture] * 20)
    run, weights_file = tmp_path / "run", tmp_path / "student.pt"
    train(
        [
            *["--run-dir", str(run), "--export", str(weights_file)],
            *["--init", str(DEFAULT_WEIGHTS), "--soft-silver", str(soft)],
            *["--max-sentences", "40", "--epochs", "1", "--quiet"],
        ]
    )
    student, teacher = load(weights_file), load(DEFAULT_WEIGHTS)
    assert student.version == "msra+soft-e1"
    assert soft_loss(student, text, mixture) < soft_loss(teacher, text, mixture)


def soft_loss(model: BuiltinModel, text: str, soft: SoftTags) -> float:
    batch = collate([model.encoder.encode(text)])
    with torch.no_grad():
        loss = model.tagger.eval().loss(batch, Targets.collate([soft], batch.mask))
    return float(loss)


def test_no_msra_test_text_reaches_the_silver_sentences() -> None:
    """People's Daily holds a few MSRA test sentences (short boilerplate such as 中华人民共和国
    主席江泽民) and sentences sharing long runs with test ones: none is kept."""
    kept = sentences("people-daily", 8, 100)
    assert len(kept) > 40_000
    test = [text for text, _ in msra.read("test")]
    assert "中华人民共和国主席江泽民" in test
    assert not set(kept) & set(test)
    runs = {text[i : i + OVERLAP] for text in test for i in range(len(text) - OVERLAP + 1)}
    assert not any(text[i : i + OVERLAP] in runs for text in kept for i in range(len(text)))


def silver_loss(model: BuiltinModel, text: str, tags: list[str]) -> float:
    batch = collate([model.encoder.encode(text)])
    with torch.no_grad():
        path = torch.tensor([[TAG_INDEX[t] for t in tags]])
        loss = model.tagger.eval().loss(batch, Targets.from_tags(path, batch.mask))
    return float(loss)
