"""An evaluation log's tail keeps no secret value of its job's request, however it is worded."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmms_eval_client import JobInfo, eval_log_tail

from ..support import job_json

SECRET = "sk-live-0123456789abcdef"


def test_the_tail_of_a_jobs_log_masks_its_secret_model_args_wherever_they_stand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: only "name=value" shapes were masked; a value the log repeats on its own stayed.
    monkeypatch.setenv("LMMS_EVAL_SECRET_ARGS", "key,vault")
    (tmp_path / "eval-20260101-000000.log").write_text(
        f"logging in with {SECRET}\nvault: corp-vault-9 ok\nusing corp-vault-9 for the run\n"
    )
    request = {
        "model": "openai",
        "tasks": ["mme"],
        "output_dir": str(tmp_path),
        "model_args": {"api_key": SECRET, "vault": "corp-vault-9"},
    }
    job = JobInfo.model_validate(job_json("running", request=request))
    tail = eval_log_tail(job)
    assert SECRET not in tail and "corp-vault-9" not in tail
    assert tail.splitlines()[0] == "logging in with [REDACTED]"
    assert eval_log_tail(str(tmp_path)).splitlines()[2] == "using corp-vault-9 for the run"
