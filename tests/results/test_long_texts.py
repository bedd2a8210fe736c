"""A failed job's error of many megabytes is redacted within a bound: its first and last
lines kept, its middle said cut, and no secret shown in part at the cut (the runs CLI's
adversarial try: a 50 MB error took 80 s of regular expressions per pass, ``runs watch
--timeout 10`` ran 108 s, and the ledger grew 150 MB for one job)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client._results.redaction import _HEAD, MAX_REDACTED_CHARS, redact_secrets

from ..runs._fake import FakeServer
from ..support import BASE

SECRET = "Zq9live0123456789abcdefQ"
FRAGMENTS = [SECRET[i : i + 5] for i in range(len(SECRET) - 4)]


def test_a_long_error_keeps_its_first_and_last_lines_and_says_what_was_cut() -> None:
    lines = [f"line {n}: " + "x" * 1000 for n in range(50_000)]  # 50 MB
    text = "\n".join([*lines, "ValueError: Tasks not found: no_such_task"])
    shown = redact_secrets(text, cut=True)
    assert len(shown) <= MAX_REDACTED_CHARS + 100
    assert shown.startswith("line 0: ") and shown.endswith(
        "ValueError: Tasks not found: no_such_task"
    )
    assert "characters cut ...]" in shown


@pytest.mark.parametrize("shift", range(0, 40, 9))
def test_no_secret_is_shown_in_part_at_a_cut_in_one_long_line(shift: int) -> None:
    # One line, no line break to cut at: the cut falls on the secret at the head's end,
    # then at the tail's start.
    for start in (_HEAD - 20 - shift, 700_000 - (MAX_REDACTED_CHARS - _HEAD) - shift):
        text = "a" * start + " api_key=" + SECRET + " " + "b " * 350_000
        text = text[:700_000]
        shown = redact_secrets(text, cut=True)
        assert not any(fragment in shown for fragment in FRAGMENTS), start
        known = redact_secrets(
            "a" * start + " " + SECRET + " " + "b " * 350_000, [SECRET], cut=True
        )
        assert not any(fragment in known for fragment in FRAGMENTS), start


def test_a_run_stores_a_huge_error_cut(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    error = ("x" * 1000 + "\n") * 5_000 + "RuntimeError: CUDA out of memory"  # 5 MB
    with FakeServer().mocked() as server, EvalClient(BASE) as client, EvalRun(client, path) as run:
        job = run.submit("qwen2_vl", ["mme"], model_args={"pretrained": "a/b"})
        assert job.job_id is not None
        server.finish(job.job_id, "failed", error)
        (outcome,) = run.harvest()
    stored = sum(part.stat().st_size for part in tmp_path.glob("run.sqlite*"))
    assert stored < 4 * MAX_REDACTED_CHARS  # before: the 5 MB text, three times
    assert outcome.job.info is not None and outcome.job.info.error is not None
    assert outcome.job.info.error.endswith("RuntimeError: CUDA out of memory")
