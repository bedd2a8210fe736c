"""The code blocks of the README and of the docs site (docs/**/*.md), found and run as written.

Each fenced block is found with its file, the heading it stands under and its language:

* a ```python block runs in a fresh interpreter (``run_python``):

  - a block with ``def test_`` is a pytest file: it runs under pytest in an empty folder
    (no asyncio_mode of ours) with the local server's plugin, as a user's project would;
  - a block that talks to ``http://127.0.0.1:8000`` (the server the pages tell readers to
    start) runs against a local server on a free port: only the port in that URL changes;
  - a block that talks to ``http://127.0.0.1:5000`` (``mlflow server``'s address) runs with
    a real MLflow tracking server on a free port, the same way;
  - any other block runs as it is (its own server, if it needs one, is in the block);
  - a block whose first line is ``# (continued)`` goes on from the block before it (in the
    same file): both run together;

* the ```bash blocks of a section in ``SHELL_SECTIONS`` run together, in order, in one bash
  (tests/cli/test_readme_commands.py);
* a block without a language is output or a diagram (an error tree, a table printed), and a
  ```{directive} block is MyST markup (a toctree): neither is code, neither is run.

A block that cannot run as written gets an entry in SKIPPED, keyed by its heading (without
the ``#``s, so a section moved from the README to a docs page at another level keeps its
entry) and its first line, with the reason. ``uncovered`` names any block that is neither
run nor skipped: a test fails on it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..trackers._mlflow import MlflowServer

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
PAGE_URL = "http://127.0.0.1:8000"
MLFLOW_URL = "http://127.0.0.1:5000"
LANGUAGES = {"python", "bash", ""}  # a block in another language: not covered yet

# The PostgreSQL guide's blocks run in order against a PostgreSQL server the test starts.
TEAM_SCALE = "run by tests/docs/test_team_scale.py, in order, against a real PostgreSQL"

# Sections whose bash blocks run together (tests/cli/test_readme_commands.py): file -> heading.
# The README's is a taste of the command line; the guide's is the whole of it.
SHELL_SECTIONS: dict[Path, str] = {
    README: "## Command line",
    ROOT / "docs" / "guides" / "command-line.md": "# Command line",
}

# Sections whose bash blocks run together in tests/cli/test_readme_commands.py's tracker test
# (against a real MLflow server): file -> heading.
TRACKER_SECTIONS: dict[Path, str] = {
    ROOT / "docs" / "guides" / "trackers.md": "# Send metrics to your tracker",
}

# (heading without #s, first line) -> why the block is not run.
SKIPPED: dict[tuple[str, str], str] = {
    **{
        ("The URL", "from lmms_eval_client import EvalClient, EvalRun"): TEAM_SCALE,
        ("Creating the database", "CREATE ROLE evals LOGIN PASSWORD 's3cret';"): TEAM_SCALE,
        (
            "Moving a run to PostgreSQL",
            'lmms-eval-client runs migrate evals.sqlite "postgresql://evals@db.internal/evals'
            '?schema=sweep_lr3e4"',
        ): TEAM_SCALE,
    },
    ("In a script: `LocalServer`", "from lmms_eval_client import EvalClient"): (
        "an outline: its body is `...`"
    ),
    (
        "lmms-eval-client",
        "make demo     # sets up .venv, starts a local server, runs examples/quickstart.py "
        "against it",
    ): "make targets: `make test` is this suite; `make demo` builds .venv and runs the demo",
    (
        "lmms-eval-client",
        "LMMS_EVAL_BASE_URL=http://gpu-box:8000 make demo   # options: .venv/bin/python "
        "examples/quickstart.py --help",
    ): "needs the reader's own server (gpu-box)",
    (
        "See a run: the report",
        "make demo-report   # prints: report written: .../build/report-demo/report.html",
    ): "a make target (it builds .venv); tests/report/test_demo.py runs examples/report_demo.py",
    (
        "Install",
        "pip install -e '.[cli,testing]'   # from the checkout: the SDK, the CLI, the local server",
    ): (
        "installs the package: tests/packaging installs the built wheel with [testing,cli] in a "
        "fresh venv instead"
    ),
    ("Quickstart", "pip install -e .              # from this repository"): (
        "installs the package: tests/packaging installs the built wheel in a fresh venv instead"
    ),
    (
        "Quickstart",
        "make install                                              # .venv with the SDK and "
        "lmms-eval 0.7.3",
    ): (
        "starts the real server in the background for the reader; tests/contract start it "
        "as a fixture"
    ),
    (
        "Testing against a local server",
        "pip install -e '.[testing]'        # from the repository's top folder",
    ): "installs the package: tests/packaging installs the built wheel with [testing]",
    (
        "From the command line",
        "lmms-eval-local-server --port 8000 --job-duration 5      # or: python -m "
        "lmms_eval_client.testing",
    ): "a server that runs until Ctrl+C; tests/testing/test_cli.py starts it",
    ("Evaluate while you train", "from transformers import Trainer"): (
        "needs transformers and torch, and the reader's model and dataset: "
        "tests/real_completion/test_trainer_callback.py runs a real Trainer with EvalCallback "
        "(make test-real)"
    ),
    (
        "Evaluate while you train",
        "lmms-eval-client watch out/ --ledger evals.sqlite -m qwen2_vl -t mme -a "
        "'pretrained={checkpoint}' --every 2 --max-pending 4",
    ): "runs until Ctrl+C: tests/watch/test_cli_watch.py runs it and stops it",
}


@dataclass(frozen=True)
class Snippet:
    path: Path
    heading: str
    line: int
    language: str
    code: str

    @property
    def id(self) -> str:
        where = self.path.relative_to(ROOT).with_suffix("").as_posix()
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")
        return f"{where}:L{self.line}-{slug}"

    @property
    def skipped(self) -> str | None:
        return SKIPPED.get((self.heading.lstrip("#").strip(), self.code.splitlines()[0]))


def blocks(paths: Iterable[Path]) -> list[Snippet]:
    """Every fenced block of ``paths``, in order, with ``# (continued)`` blocks joined."""
    found: list[Snippet] = []
    for path in paths:
        heading, lines = "", path.read_text(encoding="utf-8").splitlines()
        previous: Snippet | None = None
        i = 0
        while i < len(lines):
            if lines[i].startswith("#"):
                heading = lines[i]
            fence = re.fullmatch(r"```(\S*)( .*)?", lines[i].strip())
            if fence and not lines[i].startswith(" "):
                end = lines.index("```", i + 1)
                code = "\n".join(lines[i + 1 : end]) + "\n"
                language = fence.group(1)
                if code.startswith("# (continued)") and previous is not None:
                    code = previous.code + code
                snippet = Snippet(path, heading, i + 1, language, code)
                found.append(snippet)
                if language == "python":
                    previous = snippet
                i = end
            i += 1
    return found


def python_snippets(paths: Iterable[Path]) -> list[Snippet]:
    return [s for s in blocks(paths) if s.language == "python"]


def shell_section(path: Path, heading: str) -> list[str]:
    """The ```bash blocks under ``heading`` of ``path``, up to the next heading of its level
    or above."""
    lines = path.read_text(encoding="utf-8").splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    start = lines.index(heading)
    found: list[str] = []
    i = start + 1
    while i < len(lines):
        stripped = lines[i].lstrip("#")
        depth = len(lines[i]) - len(stripped)
        if depth and stripped.startswith(" ") and depth <= level:
            break
        if lines[i].startswith("```"):  # a block: its lines are no headings ("# (continued)")
            end = lines.index("```", i + 1)
            if lines[i].strip() == "```bash":
                found.append("\n".join(lines[i + 1 : end]))
            i = end
        i += 1
    return found


def uncovered(paths: Iterable[Path]) -> list[str]:
    """The blocks of ``paths`` that no test runs and SKIPPED does not name."""
    sections = [*SHELL_SECTIONS.items(), *TRACKER_SECTIONS.items()]
    ran_by_shell = {block for path, heading in sections for block in shell_section(path, heading)}
    missing = []
    for snippet in blocks(paths):
        if snippet.language.startswith("{") or snippet.skipped is not None:
            continue  # a MyST directive (a toctree, an included file), or run elsewhere
        if snippet.language not in LANGUAGES:
            missing.append(f"{snippet.id}: a ```{snippet.language} block")
        elif (
            snippet.language == "bash"
            and snippet.skipped is None
            and snippet.code.rstrip("\n") not in ran_by_shell
        ):
            missing.append(f"{snippet.id}: a ```bash block outside SHELL_SECTIONS")
    return missing


CONFTEST = next(
    s.code for s in python_snippets([README, *DOCS]) if s.code.startswith("pytest_plugins")
)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def run_python(
    snippet: Snippet, tmp_path: Path, request: pytest.FixtureRequest, times: int = 1
) -> str | None:
    """Runs a ```python block as written (``times`` times in one folder, against the same
    servers; a block that talks to MLflow, against the run's MLflow server, started
    once a run); returns why it was not run, if it was not."""
    if snippet.skipped is not None:
        return snippet.skipped
    if snippet.code.startswith("pytest_plugins"):
        return "the conftest line of the pytest snippets: run with each of them"
    env = {**os.environ, "LMMS_EVAL_OUTPUT_ROOT": str(tmp_path / "out")}
    env.pop("LMMS_EVAL_BASE_URL", None)
    if "def test_" in snippet.code:
        (tmp_path / "conftest.py").write_text(CONFTEST)
        (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's settings
        (tmp_path / "test_snippet.py").write_text(snippet.code)
        _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path, env)
        return None
    script = tmp_path / "snippet.py"
    with contextlib.ExitStack() as servers:
        code = snippet.code
        if MLFLOW_URL in code:
            mlflow: MlflowServer = request.getfixturevalue("shared_mlflow_server")
            code = code.replace(MLFLOW_URL, mlflow.url)
        if PAGE_URL in code:
            config = LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)
            server = servers.enter_context(LocalServer(config))
            code = code.replace(PAGE_URL, server.url)
        script.write_text(code)
        for _ in range(times):
            _run([sys.executable, str(script)], tmp_path, env)
    return None
