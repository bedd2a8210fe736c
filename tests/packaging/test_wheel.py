"""Packaging as users install it: ``python -m build`` makes an sdist and a wheel that
``twine check`` passes; the wheel ships the typing markers and the local server's registry
and nothing of the tests; installed into a fresh venv with ``[testing,cli]``, it runs the
quickstart against its own local server."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..readme.snippets import PAGE_URL, ROOT, python_snippets
from ..servers import free_port, serves_port, stop_process

QUICKSTART = ROOT / "docs" / "guides" / "quickstart.md"


def _run(args: list[str], cwd: Path, timeout: float = 280, **kwargs: object) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kwargs
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if importlib.util.find_spec("build") is None:
        pytest.skip("`build` is not installed (the dev extra has it: `make install`)")
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], out)
    yield out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("*.whl")
    return wheel


@pytest.mark.slow
def test_build_makes_an_sdist_and_a_wheel_twine_accepts(dist: Path) -> None:
    assert len(list(dist.glob("*.tar.gz"))) == 1
    assert len(list(dist.glob("*.whl"))) == 1
    _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())], dist)


def test_the_wheel_ships_what_users_need_and_no_tests(dist: Path) -> None:
    names = zipfile.ZipFile(_wheel(dist)).namelist()
    for needed in (
        "lmms_eval_client/py.typed",
        "lmms_eval_api/py.typed",
        "lmms_eval_client/testing/registry.json",
        "lmms_eval_client/cli/app.py",
    ):
        assert needed in names
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {
        "lmms_eval_client",
        "lmms_eval_api",
    }
    assert not [n for n in names if "/tests/" in n or n.startswith(("tests/", "docs/"))]


def test_the_sdist_builds_the_same_package(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(n.endswith("src/lmms_eval_client/testing/registry.json") for n in names)
    assert not [n for n in names if "/tests/" in n]


@pytest.mark.slow
def test_the_installed_wheel_runs_the_quickstart(dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # A venv without its own pip, filled by this pip (`--python`), without compiling every
    # dependency's bytecode: the same install, ~8 s less CPU (ensurepip and compileall).
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python, bin_dir = venv / "bin" / "python", venv / "bin"
    # pip's own configuration decides where the dependencies come from (a local wheel
    # folder, else the registry): only the project itself is the wheel just built.
    install = ["install", "-q", "--no-compile", f"{_wheel(dist)}[testing,cli]"]
    _run([sys.executable, "-m", "pip", "--python", str(python), *install], tmp_path, 600)
    (sync,) = [s for s in python_snippets([QUICKSTART]) if s.heading == "## Sync"]
    port = free_port()
    server = subprocess.Popen(
        [str(bin_dir / "lmms-eval-local-server"), "--port", str(port), "--job-duration", "0.05"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        cli = [str(bin_dir / "lmms-eval-client"), "--server", url]
        _run([*cli, "health", "--wait", "30"], tmp_path)
        assert serves_port(server, port), "another test's server took the port meanwhile"
        script = tmp_path / "quickstart.py"
        script.write_text(sync.code.replace(PAGE_URL, url))
        _run([str(python), str(script)], tmp_path)
        # the installed package, not this checkout
        code = "import lmms_eval_client; print(lmms_eval_client.__file__)"
        where = _run([str(python), "-c", code], tmp_path)
        assert str(venv) in where
    finally:
        stop_process(server)
