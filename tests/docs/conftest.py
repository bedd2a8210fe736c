"""The built docs site: the one `make docs` built (``make test`` names it in
LMMS_EVAL_CLIENT_DOCS_HTML), else a fresh build of docs/ into a temporary folder."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT_ENV = "LMMS_EVAL_CLIENT_DOCS_HTML"
# As `make docs` builds: fresh (-E -a), every warning an error (-W).
SPHINX = [sys.executable, "-m", "sphinx", "-E", "-a", "-W", "--keep-going", "-q", "-b", "html"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    given = os.environ.get(BUILT_ENV)
    if given:
        html = ROOT / given
        assert (html / "index.html").is_file(), f"{BUILT_ENV}={given}: no site there"
        yield html
        return
    if importlib.util.find_spec("sphinx") is None:
        pytest.skip("the docs extra is not installed (`make docs` installs and builds)")
    html = tmp_path_factory.mktemp("docs") / "html"
    done = subprocess.run(
        [*SPHINX, str(ROOT / "docs"), str(html)],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'generated'}"},
    )
    assert done.returncode == 0, f"the docs build failed:\n{done.stdout}\n{done.stderr}"
    assert "WARNING" not in done.stderr, done.stderr
    yield html
