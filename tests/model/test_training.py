"""A few training steps on a few sentences: train, export, resume, load the export."""

from __future__ import annotations

import json
from pathlib import Path

from ner_inference.builtin import load
from ner_inference.builtin.train import main


def test_train_export_resume(tmp_path: Path) -> None:
    run, weights = tmp_path / "run", tmp_path / "model.pt"
    args = ["--run-dir", str(run), "--export", str(weights), "--max-sentences", "120", "--quiet"]
    main([*args, "--epochs", "1"])
    assert weights.exists() and (run / "last.pt").exists()
    main([*args, "--epochs", "2"])  # resumes: one more epoch, not two
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["loss"] < history[0]["loss"]

    model = load(weights)
    [found] = model.predict(["李克强在北京"])
    assert all("李克强在北京"[e.start : e.end] == e.span for e in found)
