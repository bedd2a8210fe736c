"""The README's Python snippets run as written (against a local server where they need one).

Each ```python block is found with the heading it stands under, and run in a fresh
interpreter:

* a block with ``def test_`` is a pytest file: it runs under pytest in an empty folder
  (no asyncio_mode of ours) with the local server's plugin, as a user's project would;
* a block that talks to ``http://127.0.0.1:8000`` (the server the README tells readers to
  start) runs against a local server on a free port: only the port in that URL changes;
* a block that talks to ``http://127.0.0.1:5000`` (``mlflow server``'s address) runs with
  a real MLflow tracking server on a free port, the same way;
* any other block runs as it is (its own server, if it needs one, is in the block);
* a block whose first line is ``# (continued)`` goes on from the block before it: both
  run together.

A block that cannot run as written gets an entry in SKIPPED, with the reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..trackers._mlflow import mlflow_server

README = Path(__file__).resolve().parents[2] / "README.md"
README_URL = "http://127.0.0.1:8000"
MLFLOW_URL = "http://127.0.0.1:5000"
# (heading, first line) -> why the block is not run.
SKIPPED: dict[tuple[str, str], str] = {
    ("### In a script: `LocalServer`", "from lmms_eval_client import EvalClient"): (
        "an outline: its body is `...`"
    ),
}


@dataclass(frozen=True)
class Snippet:
    heading: str
    line: int
    code: str

    @property
    def id(self) -> str:
        return f"L{self.line}-{re.sub(r'[^a-z0-9]+', '-', self.heading.lower()).strip('-')}"


def snippets() -> list[Snippet]:
    found, heading, lines = [], "", README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("#"):
            heading = lines[i]
        if lines[i].strip() == "```python":
            end = lines.index("```", i + 1)
            code = "\n".join(lines[i + 1 : end]) + "\n"
            if code.startswith("# (continued)") and found:
                code = found[-1].code + code
            found.append(Snippet(heading, i + 1, code))
            i = end
        i += 1
    return found


SNIPPETS = snippets()
CONFTEST = next(s.code for s in SNIPPETS if s.code.startswith("pytest_plugins"))


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=240, env=env or dict(os.environ)
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
@pytest.mark.slow
def test_readme_snippet_runs_as_written(snippet: Snippet, tmp_path: Path) -> None:
    reason = SKIPPED.get((snippet.heading, snippet.code.splitlines()[0]))
    if reason is not None:
        pytest.skip(reason)
    if snippet.code.startswith("pytest_plugins"):
        pytest.skip("the conftest line of the pytest snippets: run with each of them")
    env = {**os.environ, "LMMS_EVAL_OUTPUT_ROOT": str(tmp_path / "out")}
    env.pop("LMMS_EVAL_BASE_URL", None)
    if "def test_" in snippet.code:
        (tmp_path / "conftest.py").write_text(CONFTEST)
        (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's settings
        (tmp_path / "test_snippet.py").write_text(snippet.code)
        run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path, env)
        return
    script = tmp_path / "snippet.py"
    with contextlib.ExitStack() as servers:
        code = snippet.code
        if MLFLOW_URL in code:
            (tmp_path / "mlflow").mkdir()
            tracker = servers.enter_context(mlflow_server(tmp_path / "mlflow"))
            code = code.replace(MLFLOW_URL, tracker.url)
        if README_URL in code:
            config = LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)
            server = servers.enter_context(LocalServer(config))
            code = code.replace(README_URL, server.url)
        script.write_text(code)
        run([sys.executable, str(script)], tmp_path, env)


def test_every_snippet_is_found() -> None:
    # Guards the parser: the README has these sections' snippets at least.
    headings = {s.heading for s in SNIPPETS}
    assert {"### Sync", "### Async", "### pytest fixtures"} <= headings
