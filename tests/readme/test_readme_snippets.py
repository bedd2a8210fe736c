"""The README's code blocks run as written (the mechanism, shared with the docs site's
pages, is in snippets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .snippets import README, Snippet, python_snippets, run_python, uncovered

SNIPPETS = python_snippets([README])


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
@pytest.mark.slow
def test_readme_snippet_runs_as_written(snippet: Snippet, tmp_path: Path) -> None:
    reason = run_python(snippet, tmp_path)
    if reason is not None:
        pytest.skip(reason)


def test_every_snippet_is_found() -> None:
    # Guards the parser: the README has these sections' snippets at least.
    headings = {s.heading for s in SNIPPETS}
    assert {"### Sync", "### Async", "### pytest fixtures"} <= headings


def test_every_block_runs_or_says_why_not() -> None:
    assert uncovered([README]) == []
