"""The README is a landing page (issue 27): small, its links working, and every section it
used to hold living on in a guide, as CONTRIBUTING.md's table says."""

from __future__ import annotations

import re
from pathlib import Path

from .snippets import README, ROOT

CONTRIBUTING = ROOT / "CONTRIBUTING.md"
MAX_BYTES = 12 * 1024

# The README's sections (## and ###) before it was cut to a landing page, in their order.
FORMER_SECTIONS = [
    "## Quickstart",
    "### Sync",
    "### Async",
    "## What you get back",
    "### wait_for_job",
    "## Results",
    "### `EvalResults`",
    "### Samples, streamed",
    "### Where the files are",
    "### What the client reads",
    "### Output directories the client can find",
    "### The evaluation log",
    "### Errors",
    "## Command line",
    "## Several servers",
    "## Retries",
    "## Logging",
    "## Configuration",
    "## Errors",
    "## Migrating from `lmms_eval.entrypoints`",
    "## Evaluation runs",
    "### Exactly one job per submission",
    "### Keys and servers",
    "### Delivery you choose",
    "### Recovered jobs",
    "### The run as a table",
    "## Testing against a local server",
    "### pytest fixtures",
    "### In process, without a socket",
    "### In a script: `LocalServer`",
    "### From the command line",
    "### Real completed evaluations (`make test-real`)",
    "## What the local server simulates",
    "## Performance",
    "## How it is built",
    "### Make targets",
    "### When the server's API changes",
    "## Send metrics to your tracker",
    "## Evaluate while you train",
    "## See a run: the report",
]

LINK = re.compile(r"\]\(([^)\s]+)\)")
ROW = re.compile(r"^\| (``?)(#{2,3} .+?)\1(?: \([^)]*\))? \| \[[^\]]*\]\(([^)]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading (and MyST's, myst_heading_anchors)."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            found.add(slug(line))
    return found


def resolves(source: Path, target: str) -> bool:
    """A relative link of ``source`` names an existing file and, with ``#``, its heading."""
    file_part, _, anchor = target.partition("#")
    path = (source.parent / file_part).resolve() if file_part else source
    if not path.is_file():
        return False
    return not anchor or path.suffix != ".md" or anchor in anchors(path)


def test_the_readme_is_under_12_kb() -> None:
    size = len(README.read_bytes())
    assert size <= MAX_BYTES, f"README.md is {size} bytes: over {MAX_BYTES}; move text to a guide"


def test_the_readme_links_resolve() -> None:
    targets = [t for t in LINK.findall(README.read_text()) if not t.startswith("https://")]
    assert "docs/guides/quickstart.md" in targets  # the links into the docs are there
    assert [t for t in targets if not resolves(README, t)] == []


def test_the_readme_links_every_guide() -> None:
    linked = set(LINK.findall(README.read_text()))
    guides = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "guides").glob("*.md")}
    assert guides - linked == set()


def _former_section_rows() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in CONTRIBUTING.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            heading, target = match.group(2).strip(), match.group(3)
            rows[heading] = target
    return rows


def test_every_former_readme_section_lives_where_contributing_says() -> None:
    rows = _former_section_rows()
    assert list(rows) == FORMER_SECTIONS  # none missing, none made up
    broken = [f"{h} -> {t}" for h, t in rows.items() if not resolves(CONTRIBUTING, t)]
    assert broken == []


def test_the_resolver_sees_a_missing_heading() -> None:
    # Guards the test above: a wrong anchor or file is caught.
    assert resolves(CONTRIBUTING, "docs/guides/results.md#evalresults")
    assert not resolves(CONTRIBUTING, "docs/guides/results.md#no-such-heading")
    assert not resolves(CONTRIBUTING, "docs/guides/no-such-guide.md")
    assert slug("## Migrating from `lmms_eval.entrypoints`") == (
        "migrating-from-lmms_evalentrypoints"
    )
