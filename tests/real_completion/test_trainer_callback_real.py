"""EvalCallback inside a real ``transformers.Trainer``, against the REAL lmms-eval server of
the lane: each checkpoint the Trainer saves is submitted once and evaluated for real, on CPU,
by lmms-eval's ``huggingface`` model loading that very checkpoint (a tiny random GPT-2 with a
character tokenizer: its answers are noise, its score near 0, but every number comes from
the checkpoint's own generations); the metrics come back into the trainer's logs.

The Trainer runs in a subprocess with the lane environment's python (``trainer_script.py``,
``TRAINER_EVALUABLE=1``); the server runs from the same environment (the ``lane`` fixture).
lmms-eval's ``huggingface`` model loads text-only checkpoints through ``AutoModel``: see
``lane_lm.py`` for why the checkpoints carry their model class (``trust_remote_code``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalClient, EvalRun

from ..faults import job_count
from ._lane import ARITH, read_json, requires_lane
from .conftest import Lane
from .test_trainer_callback import finish, start

pytestmark = [pytest.mark.real_completion, requires_lane]

# Two checkpoints (steps 2 and 4), each a real evaluation of about 10-60 s, one at a time.
SUBMIT = {
    "model": "huggingface",
    "tasks": [ARITH],
    "model_args": {
        "pretrained": "{checkpoint}",
        "device": "cpu",
        "device_map": "cpu",
        "trust_remote_code": True,
    },
}
ENV = {
    "TRAINER_EVALUABLE": "1",
    "TRAINER_SUBMIT": json.dumps(SUBMIT),
    "TRAINER_MAX_STEPS": "4",
    "TRAINER_WAIT_AT_END": "900",
}
EXPECTED = ["checkpoint-2", "checkpoint-4"]


def train(lane: Lane, folder: Path) -> dict[str, Any]:
    return finish(start(lane.url, folder, **ENV))


def test_each_checkpoint_is_evaluated_by_the_real_server_and_logged(
    lane: Lane, tmp_path: Path
) -> None:
    before, chat_before = job_count(lane.url), lane.chat.stats()["requests"]
    result = train(lane, tmp_path)
    assert result["submitted"] == EXPECTED
    logged = sorted(result["evals"], key=lambda entry: entry["eval/checkpoint_step"])
    assert [entry["eval/checkpoint_step"] for entry in logged] == [2.0, 4.0]
    scores = [entry[f"eval/{ARITH}/exact_match"] for entry in logged]
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert job_count(lane.url) - before == 2
    assert lane.chat.stats()["requests"] == chat_before  # the checkpoint answered, not the chat

    with EvalClient(lane.url) as client, EvalRun(client, tmp_path / "evals.sqlite") as run:
        jobs = run.jobs()
        assert [job.key for job in jobs] == EXPECTED
        assert [job.state for job in jobs] == ["completed", "completed"]
        assert [job.labels["step"] for job in jobs] == [2, 4]
        for job, score in zip(jobs, scores, strict=True):
            assert job.info is not None and job.info.result
            (paths,) = job.info.result.values()
            results = read_json(paths["results"])
            checkpoint = tmp_path / "out" / str(job.key)
            assert str(checkpoint) in str(results["config"]["model_args"])
            assert results["config"]["model"] == "huggingface"
            assert results["n-samples"][ARITH]["effective"] == 5
            assert results["results"][ARITH]["exact_match,none"] == score
        print({job.key: metric for job, metric in zip(jobs, scores, strict=True)})

    again = train(lane, tmp_path)  # the same training run again: nothing sent twice
    assert again["submitted"] == EXPECTED
    assert job_count(lane.url) - before == 2
