"""The README's code blocks run as written (the mechanism, shared with the docs site's
pages, is in snippets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmms_eval_client._runs.ledger import Ledger

from .snippets import (
    DOCS,
    README,
    ROOT,
    Snippet,
    python_snippets,
    run_python,
    uncovered,
)

SNIPPETS = python_snippets([README])

# The training loop, keyed by epoch: the README's and the evaluation-runs guide's.
TRAINING_LOOPS = {
    README: "## Evaluate while you train",
    ROOT / "docs" / "guides" / "evaluation-runs.md": "# Evaluation runs",
}


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
@pytest.mark.slow
def test_readme_snippet_runs_as_written(
    snippet: Snippet, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    reason = run_python(snippet, tmp_path, request)
    if reason is not None:
        pytest.skip(reason)


def test_every_snippet_is_found() -> None:
    # Guards the parser: the README has these sections' snippets at least.
    headings = {s.heading for s in SNIPPETS}
    assert {"## Evaluate while you train", "### Sync", "### Async"} <= headings


def test_every_block_runs_or_says_why_not() -> None:
    assert uncovered([README]) == []


@pytest.mark.parametrize(
    ("path", "heading"),
    list(TRAINING_LOOPS.items()),
    ids=[path.relative_to(ROOT).as_posix() for path in TRAINING_LOOPS],
)
@pytest.mark.slow
def test_the_training_loop_run_twice_submits_each_checkpoint_once(
    path: Path, heading: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Issue 21: before keys, the README's loop run twice left 6 jobs for its 3 epochs.
    assert path == README or path in DOCS
    (loop,) = [
        s
        for s in python_snippets([path])
        if s.heading == heading and 'key=f"epoch-{epoch}"' in s.code
    ]
    assert run_python(loop, tmp_path, request, times=2) is None
    ledger = Ledger(tmp_path / "evals.sqlite", read_only=True)
    try:
        jobs = ledger.jobs()
    finally:
        ledger.close()
    assert [job.key for job in jobs] == ["epoch-0", "epoch-1", "epoch-2"]
    assert len({job.job_id for job in jobs}) == 3 and all(job.harvested for job in jobs)
