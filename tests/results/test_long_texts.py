"""A failed job's error of many megabytes is redacted within a bound: its start and end kept,
its middle said cut, and no secret shown, whole or in part, at a cut (the runs CLI's
adversarial try: a 50 MB error took 80 s of regular expressions per pass, ``runs watch
--timeout 10`` ran 108 s, and the ledger grew 150 MB for one job; the review: a cut between
a secret's name and its value showed the value whole). The bound is made small here."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client._results import redaction
from lmms_eval_client._results.redaction import redact_secrets

from ..runs._fake import FakeServer
from ..support import BASE

SECRET = "Zq9live0123456789abcdefQ"
FRAGMENTS = [SECRET[i : i + 5] for i in range(len(SECRET) - 4)]
BOUND = 16 * 1024


@pytest.fixture(autouse=True)
def _small_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redaction, "MAX_REDACTED_CHARS", BOUND)
    monkeypatch.setattr(redaction, "_HEAD", BOUND // 8)


def test_a_long_error_keeps_its_start_and_its_last_lines_and_says_what_was_cut() -> None:
    lines = [f"line {n}: " + "x" * 1000 for n in range(500)]
    reason = "ValueError: Tasks not found: no_such_task " + "y" * 3000  # a long last line
    shown = redact_secrets("\n".join([*lines, reason, "done"]), cut=True)
    assert len(shown) <= BOUND + 100
    assert shown.startswith("line 0: ") and shown.endswith(f"{reason}\ndone")
    assert "characters cut ...]" in shown


@pytest.mark.parametrize(
    "said",
    [
        f"api_key={SECRET}",
        f"password: {SECRET}",
        f"token = {SECRET}",
        f'{{"api_key": "{SECRET}"}}',
        f"--hf-token {SECRET}",
        f"Authorization: Bearer {SECRET}",
    ],
)
@pytest.mark.slow
def test_no_secret_is_shown_at_a_cut_in_one_long_line(said: str) -> None:
    total = 40_000  # one line: no line's end to cut at
    for cut_at in (BOUND // 8, total - (BOUND - BOUND // 8)):  # the head's end, the tail's start
        for inside in range(-2, len(said) + 2, 2):  # the cut at each place of what is said
            start = cut_at - inside
            text = "a" * start + " " + said + " "
            text += "b" * (total - len(text))
            shown = redact_secrets(text, cut=True)
            assert not any(fragment in shown for fragment in FRAGMENTS), (cut_at, inside)
            known = "a" * start + f" {SECRET} "
            known = redact_secrets(known + "b" * (total - len(known)), [SECRET], cut=True)
            assert not any(fragment in known for fragment in FRAGMENTS), (cut_at, inside)


def test_a_run_stores_a_huge_error_cut(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    error = ("x" * 1000 + "\n") * 2_000 + "RuntimeError: CUDA out of memory"  # 2 MB
    with FakeServer().mocked() as server, EvalClient(BASE) as client, EvalRun(client, path) as run:
        job = run.submit("qwen2_vl", ["mme"], model_args={"pretrained": "a/b"})
        assert job.job_id is not None
        server.finish(job.job_id, "failed", error)
        (outcome,) = run.harvest()
    stored = sum(part.stat().st_size for part in tmp_path.glob("run.sqlite*"))
    assert stored < 500_000  # before: the 2 MB text, three times
    assert outcome.job.info is not None and outcome.job.info.error is not None
    assert outcome.job.info.error.endswith("RuntimeError: CUDA out of memory")
