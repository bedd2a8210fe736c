"""The docs site's code blocks (docs/**/*.md) run as written, by the README's mechanism
(snippets.py); a module of its own so that xdist runs it beside the README's."""

from __future__ import annotations

from pathlib import Path

import pytest

from .snippets import DOCS, Snippet, python_snippets, run_python, uncovered

SNIPPETS = python_snippets(DOCS)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
@pytest.mark.slow
def test_docs_snippet_runs_as_written(
    snippet: Snippet, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    reason = run_python(snippet, tmp_path, request)
    if reason is not None:
        pytest.skip(reason)


def test_every_page_with_code_is_found() -> None:
    # Guards the file list and the parser: the guides have these pages' snippets at least.
    pages = {s.path.name for s in SNIPPETS}
    assert {"quickstart.md", "results.md", "evaluation-runs.md", "testing.md"} <= pages
    # and the sections the README held before it became a landing page
    sections = {(s.path.name, s.heading) for s in SNIPPETS}
    assert {
        ("quickstart.md", "## Sync"),
        ("quickstart.md", "## Async"),
        ("evaluation-runs.md", "# Evaluation runs"),
        ("testing.md", "## pytest fixtures"),
        ("trackers.md", "# Send metrics to your tracker"),
        ("watcher.md", "# Evaluate while you train"),
        ("reports.md", "# See a run: the report"),
    } <= sections


def test_every_block_runs_or_says_why_not() -> None:
    assert uncovered(DOCS) == []
