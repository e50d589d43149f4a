"""Character language models that pre-train the tagger's LSTM directions."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ner_inference.builtin import BuiltinModel, load
from ner_inference.builtin.charlm import DIRECTIONS, END, CharLM, Direction, initialise, sequence
from ner_inference.builtin.encoding import Encoder, collate
from ner_inference.builtin.lexicon import jieba_lexicon
from ner_inference.builtin.lm_pretrain import main as pretrain_lm
from ner_inference.builtin.network import NetworkConfig, Tagger
from ner_inference.builtin.train import main as train
from ner_inference.builtin.vocab import Vocab, bigrams

TEXT = "李克强在北京会见默克尔"


@pytest.fixture
def encoder() -> Encoder:
    chars = Vocab(sorted(set(TEXT + "上海总理")))
    pairs = Vocab(bigrams(list(TEXT)))
    return Encoder(chars, pairs, jieba_lexicon())


def hidden_states(lm: CharLM, encoder: Encoder, text: str, direction: Direction) -> torch.Tensor:
    """The LSTM's output per position, in the direction's reading order."""
    seq = sequence(encoder, list(text), direction)
    chars = torch.from_numpy(seq.chars).unsqueeze(0)
    pairs = torch.from_numpy(seq.bigrams).unsqueeze(0)
    out, _ = lm.lstm(lm.inputs(chars, pairs))
    first: torch.Tensor = out[0]
    return first


def test_each_direction_predicts_its_neighbour_character(encoder: Encoder) -> None:
    ids = encoder.chars.ids(list(TEXT)).tolist()
    forward = sequence(encoder, list(TEXT), "forward")
    assert forward.chars.tolist() == ids
    assert forward.targets.tolist() == [*ids[1:], END]
    backward = sequence(encoder, list(TEXT), "backward")
    assert backward.chars.tolist() == ids[::-1]
    assert backward.targets.tolist() == [*ids[::-1][1:], END]


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_a_language_model_never_sees_the_characters_it_predicts(
    encoder: Encoder, direction: Direction
) -> None:
    """Changing the text after a position (before it, reading backwards) leaves that
    position's state alone: the right (left) bigram and the lexicon stay hidden."""
    torch.manual_seed(0)
    tagger = Tagger(NetworkConfig(len(encoder.chars), len(encoder.bigrams), hidden=16))
    lm = CharLM(tagger, direction, dropout=0.0).eval()
    changed = TEXT[:5] + "上海总理" + TEXT[9:] if direction == "forward" else "上海总理" + TEXT[4:]
    a = hidden_states(lm, encoder, TEXT, direction)
    b = hidden_states(lm, encoder, changed, direction)
    # Forward: positions 0-4 read the same prefix; backward: the last 7 characters.
    same = 5 if direction == "forward" else 7
    assert torch.allclose(a[:same], b[:same])
    assert not torch.allclose(a[same], b[same])


VOCABULARY = ["--max-sentences", "200", "--threads", "1"]


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both directions after a few steps on news text, for a small MSRA vocabulary."""
    directory = tmp_path_factory.mktemp("lm")
    for direction in DIRECTIONS:
        pretrain_lm(
            [
                *["--direction", direction, "--out", str(directory / f"{direction}.pt")],
                *["--max-lines", "300", "--save-every", "2", "--quiet", *VOCABULARY],
            ]
        )
    return directory


def trained(tmp_path: Path, *options: str) -> BuiltinModel:
    """A tagger trained with learning rate 0: exactly what it started from."""
    weights = tmp_path / "model.pt"
    train(
        [
            *["--run-dir", str(tmp_path / "run"), "--export", str(weights), "--epochs", "1"],
            *["--lr", "0", "--quiet", *VOCABULARY, *options],
        ]
    )
    return load(weights)


def test_pretrained_directions_start_the_tagger(lm_dir: Path, tmp_path: Path) -> None:
    states = {d: torch.load(lm_dir / f"{d}.pt") for d in DIRECTIONS}
    lstm = trained(tmp_path, "--lm", str(lm_dir)).tagger.lstm.state_dict()
    for name, value in states["forward"]["lstm"].items():
        assert torch.equal(lstm[name], value)
        assert torch.equal(lstm[f"{name}_reverse"], states["backward"]["lstm"][name])
    assert not torch.equal(lstm["weight_hh_l0"], lstm["weight_hh_l0_reverse"])


def test_attached_language_models_see_what_they_saw_in_pre_training(
    lm_dir: Path, tmp_path: Path
) -> None:
    """The tagger's frozen language-model states, computed from its full input, equal each
    direction's own states from its own input: the attached weights hide the same slots."""
    model = trained(tmp_path, "--lm", str(lm_dir), "--lm-features")
    tagger = model.tagger
    assert tagger.lm is not None
    text = "李克强总理在北京会见了德国总理默克尔。"
    with torch.no_grad():
        states = tagger.inputs(collate([model.encoder.encode(text)]))[0, :, -2 * 128 :]
        for direction, half in zip(DIRECTIONS, (states[:, :128], states[:, 128:]), strict=True):
            lm = CharLM(tagger, direction, dropout=0.0).eval()
            lm.lstm.load_state_dict(torch.load(lm_dir / f"{direction}.pt")["lstm"])
            own = hidden_states(lm, model.encoder, text, direction)
            in_reading_order = half if direction == "forward" else half.flip(0)
            assert torch.allclose(in_reading_order, own, atol=1e-5)
    # Frozen: training did not need them to move, and they must not.
    assert not any(p.requires_grad for p in tagger.lm.parameters())


def test_language_models_of_another_vocabulary_are_refused(
    encoder: Encoder, tmp_path: Path
) -> None:
    for direction in ("forward", "backward"):
        torch.save({"vocab": "0" * 16}, tmp_path / f"{direction}.pt")
    tagger = Tagger(NetworkConfig(len(encoder.chars), len(encoder.bigrams), hidden=16))
    with pytest.raises(ValueError, match="another vocabulary"):
        initialise(tagger, encoder, tmp_path)
