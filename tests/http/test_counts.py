"""Every setting given as a count is checked by one function, ``check_count`` (issue 19:
one rule, written once).

Before, nine checks were written out one by one: six quoted the value whole with ``repr``
(a 1 MB string made a 1 MB message), and they said "int > 0", "int >= 1", "must be an
int" then "must be >= 1" for the same rule. Now each refuses a bool, a float, a numeric str
and a number below its minimum with an InvalidArgumentError that names the parameter and
clips the value.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import (
    CheckpointSubmission,
    CheckpointWatcher,
    EvalClient,
    EvalPool,
    EvalResults,
    EvalRun,
    InvalidArgumentError,
    RetryOnFailure,
    eval_log_tail,
    iter_samples,
    write_report,
)
from lmms_eval_client._checks import check_count

from ..support import BASE

Make = Callable[[Any, Path, Callable[[Any], Any]], object]


def _watcher(value: object, tmp: Path, keep: Callable[[Any], Any]) -> object:
    run = keep(EvalRun(keep(EvalClient(BASE)), tmp / "r.sqlite"))
    what = CheckpointSubmission(model="qwen2_vl", tasks=["mme"])
    return CheckpointWatcher(run, tmp, submit=what, every=value)


# Each surface that takes a count: the name its error gives, its minimum, how to make it.
SURFACES: dict[str, tuple[str, int, Make]] = {
    "client-max_response_bytes": (
        "max_response_bytes",
        1,
        lambda v, _, keep: keep(EvalClient(BASE, max_response_bytes=v)),
    ),
    "client-max_retries": (
        "max_retries",
        0,
        lambda v, _, keep: keep(EvalClient(BASE, max_retries=v)),
    ),
    "pool-max_jobs_per_server": (
        "max_jobs_per_server",
        1,
        lambda v, _, keep: keep(EvalPool([BASE], max_jobs_per_server=v)),
    ),
    "retry-max_attempts": (
        "max_attempts",
        1,
        lambda v, _, keep: RetryOnFailure(lost=True, max_attempts=v),
    ),
    "run-max_completed_jobs": (
        "max_completed_jobs",
        1,
        lambda v, tmp, keep: keep(
            EvalRun(keep(EvalClient(BASE)), tmp / "r.sqlite", max_completed_jobs=v)
        ),
    ),
    "results-max_bytes": (
        "max_bytes",
        1,
        lambda v, tmp, keep: EvalResults.load(tmp / "x_results.json", max_bytes=v),
    ),
    "samples-max_line_bytes": (
        "max_line_bytes",
        1,
        lambda v, tmp, keep: list(iter_samples(tmp / "x.jsonl", max_line_bytes=v)),
    ),
    "log-lines": ("lines", 0, lambda v, tmp, keep: eval_log_tail(tmp / "x.log", lines=v)),
    "report-max_samples": (
        "max_samples",
        0,
        lambda v, tmp, keep: write_report(tmp / "r.sqlite", tmp / "r.html", max_samples=v),
    ),
    "watcher-every": ("every", 1, _watcher),
}

HUGE = "9" * 1_000_000


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("kind", ["bool", "float", "numeric str", "below", "huge str"])
def test_every_count_refuses_what_is_no_count_by_name_with_a_short_message(
    surface: str, kind: str, tmp_path: Path, closing: Callable[[Any], Any]
) -> None:
    name, minimum, make = SURFACES[surface]
    value = {
        "bool": True,
        "float": float(minimum + 1),
        "numeric str": str(minimum + 1),
        "below": minimum - 1,
        "huge str": HUGE,
    }[kind]
    with pytest.raises(InvalidArgumentError) as info:
        make(value, tmp_path, closing)
    message = str(info.value)
    assert message.startswith(f"{name} must be an int >= {minimum}"), message
    assert len(message) < 300


def test_the_message_says_what_else_is_taken() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_count("max_jobs_per_server", 0, alternatives="or None: no cap")
    assert str(info.value) == "max_jobs_per_server must be an int >= 1 (or None: no cap); got 0"
    assert check_count("lines", 0, 0) == 0
    assert check_count("every", sys.maxsize) == sys.maxsize
    # (the review) past what a slice takes: write_report(max_samples=10**30) raised a raw
    # ValueError from islice
    with pytest.raises(InvalidArgumentError, match=r"^every must be an int <= "):
        check_count("every", 10**30)
