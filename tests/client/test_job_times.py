"""How long a job ran, as its server's timestamps say (``run_seconds``), in ``status`` and
the report: a pair that cannot be compared (one with a UTC offset, one without) shows no
duration. Before: ``TypeError: can't subtract offset-naive and offset-aware datetimes``,
a traceback from ``status`` and ``runs report``."""

from __future__ import annotations

import pytest
import respx

from lmms_eval_client import JobInfo
from lmms_eval_client._job_times import run_seconds

from ..cli.test_commands import invoke
from ..support import BASE, JOB_ID, job_json

NAIVE_START, NAIVE_END = "2026-12-06T22:39:09", "2026-12-06T22:39:10.500000"


@pytest.mark.parametrize(
    ("started", "completed", "seconds"),
    [
        (NAIVE_START, NAIVE_END, 1.5),
        ("2026-12-07T06:39:09+08:00", "2026-12-06T22:39:10.5+00:00", 1.5),
        ("2026-12-07T06:39:09+08:00", NAIVE_END, None),
        (NAIVE_START, "2026-12-06T22:39:10.5Z", None),
        (NAIVE_START, None, None),
        ("soon", NAIVE_END, None),
    ],
)
def test_run_seconds(started: str, completed: str | None, seconds: float | None) -> None:
    job = JobInfo.model_validate(job_json("completed", started_at=started, completed_at=completed))
    assert run_seconds(job) == seconds


def test_status_of_a_job_whose_times_cannot_be_compared() -> None:
    body = job_json("completed", started_at="2026-12-07T06:39:09+08:00", completed_at=NAIVE_END)
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/jobs/{JOB_ID}").respond(200, json=body)
        done = invoke(["status", JOB_ID], BASE)
    assert done.exit_code == 0, done.output
    assert "completed" in done.stdout and "duration" not in done.stdout
