"""``make demo-report``'s script: 6 checkpoints on a local server, one report (issue 25)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_writes_a_report_of_six_checkpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LMMS_EVAL_BASE_URL", raising=False)
    demo = runpy.run_path(str(ROOT / "examples" / "report_demo.py"))
    assert demo["main"](["-o", str(tmp_path / "report.html")]) == 0
    out = capsys.readouterr().out
    assert f"report written: {tmp_path / 'report.html'}" in out
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert text.count('<tr data-seq="') == 6
    assert "CUDA out of memory" in text and "Samples of step-600" in text
