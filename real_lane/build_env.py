"""Build, once, the CPU-only environment in which the pinned real lmms-eval server completes jobs.

``python real_lane/build_env.py`` prints the environment's folder (and nothing else) on stdout;
progress goes to stderr. The folder is
``${XDG_CACHE_HOME:-~/.cache}/lmms-eval-client/real-env-<key>``, where ``<key>`` hashes
everything that decides its content (this file's steps, the torch and lmms-eval pins,
``requirements.txt``, ``constraints.txt``, the Python version and the machine), so a change
of any of them builds a new one and an unchanged one is reused, once its health check passes.

The steps (the order matters):
1. ``torch==2.13.0`` first, alone: with torch already installed nothing later pulls another
   build; asked for by another package instead, pip may take a multi-GB CUDA build. The
   build is checked to be CPU-only (no ``nvidia-*`` package, ``torch.version.cuda`` None).
2. ``lmms-eval==0.7.3 --no-deps``: its declared dependencies are the whole ML zoo.
3. ``requirements.txt`` under ``constraints.txt``: only what the server and the evaluation
   of an API model over a local JSON task import, every package pinned.
4. A smoke import of the evaluation path; then a stamp, which makes the folder reusable.

Only the server runs from this environment; the tests run from the project's own ``.venv``
and talk to it over loopback (see tests/real_completion/conftest.py).

Options: ``--rebuild`` deletes the environment first; ``--freeze`` prints, in the format of
``constraints.txt``, what the built environment holds (to refresh that file after a change
of ``requirements.txt``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
CONSTRAINTS = HERE / "constraints.txt"
TORCH = "torch==2.13.0"
LMMS_EVAL = "lmms-eval==0.7.3"
BUILD_STEPS_VERSION = "1"  # bump when the steps of build() change
STAMP = ".lane-env-complete"

# Imported once after the build: the server, the evaluation loop, the OpenAI-compatible chat
# backend, and the modules that failed in the past (filelock 4 removed filelock._api).
SMOKE = """
import filelock._api, torch
import lmms_eval.entrypoints.http_server, lmms_eval.evaluator, lmms_eval.models.chat.openai
assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"
"""

# Run by the environment's python on reuse: every pinned package is there, at its pin.
VERSIONS_CHECK = """
import importlib.metadata as md, sys
bad = []
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if "==" not in line:
        continue
    name, pin = line.split("==")
    try:
        found = md.version(name).split("+")[0]
    except md.PackageNotFoundError:
        found = None
    if found != pin:
        bad.append(f"{name}: {found} (want {pin})")
sys.exit("; ".join(bad) or None)
"""


class BuildError(RuntimeError):
    """A build step failed; the message says which and ends with the tail of its log."""


def env_key() -> str:
    """12 hex digits that change whenever the environment's content would."""
    digest = hashlib.sha256()
    for part in (
        BUILD_STEPS_VERSION,
        TORCH,
        LMMS_EVAL,
        REQUIREMENTS.read_text(),
        CONSTRAINTS.read_text(),
        f"{sys.version_info.major}.{sys.version_info.minor}",
        platform.machine(),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def cache_root() -> Path:
    """Where lane environments are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lmms-eval-client"


def env_dir() -> Path:
    """The environment's folder for the current pins (built or not)."""
    return cache_root() / f"real-env-{env_key()}"


def env_python(env: Path) -> Path:
    """The environment's interpreter."""
    return env / "bin" / "python"


def lmms_eval_tasks_dir(env: Path) -> Path:
    """lmms-eval's own ``tasks/`` folder inside the environment (where its index looks)."""
    found = sorted(env.glob("lib/python*/site-packages/lmms_eval/tasks"))
    if not found:
        raise BuildError(f"no lmms_eval/tasks folder under {env}: rebuild with --rebuild")
    return found[0]


def _say(message: str) -> None:
    print(f"[real-env] {message}", file=sys.stderr, flush=True)


def healthy(env: Path) -> bool:
    """The environment is complete (its stamp names this key) and holds every pin."""
    stamp = env / STAMP
    if not stamp.is_file() or stamp.read_text().strip() != env_key():
        return False
    if not env_python(env).exists():
        return False
    check = subprocess.run(
        [str(env_python(env)), "-c", VERSIONS_CHECK, str(CONSTRAINTS)],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        _say(f"{env} is stale: {check.stderr.strip() or check.stdout.strip()}")
        return False
    return True


def _run(step: str, command: list[str], log: Path) -> None:
    started = time.monotonic()
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        code = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        ).returncode
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise BuildError(f"{step} failed (exit {code}); the end of {log}:\n{tail}")
    _say(f"{step}: {time.monotonic() - started:.0f} s")


def _check_cpu_only(env: Path) -> None:
    """Fail before going on when pip brought a CUDA build of torch."""
    listing = subprocess.run(
        [str(env_python(env)), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cuda = [line for line in listing.splitlines() if line.lower().startswith("nvidia-")]
    if cuda:
        raise BuildError(
            f"pip installed a CUDA build of torch ({', '.join(cuda)}); the lane needs the "
            f"CPU build: make `pip install {TORCH}` pick a CPU wheel, then --rebuild"
        )


def build(env: Path) -> None:
    """Build the environment at ``env`` from scratch (any old content is removed)."""
    shutil.rmtree(env, ignore_errors=True)
    env.parent.mkdir(parents=True, exist_ok=True)
    log = env.parent / f"{env.name}.build.log"
    log.write_text("")
    _say(f"building {env} (log: {log}); a few minutes, once")
    started = time.monotonic()
    python = str(env_python(env))
    pip = [python, "-m", "pip", "install", "--quiet"]
    _run("venv", [sys.executable, "-m", "venv", str(env)], log)
    _run(TORCH, [*pip, TORCH], log)
    _check_cpu_only(env)
    _run(f"{LMMS_EVAL} --no-deps", [*pip, "--no-deps", LMMS_EVAL], log)
    _run(
        "requirements.txt",
        [*pip, "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)],
        log,
    )
    _check_cpu_only(env)
    _run("smoke import", [python, "-c", SMOKE], log)
    (env / STAMP).write_text(env_key() + "\n")
    _say(f"built in {time.monotonic() - started:.0f} s")


@contextlib.contextmanager
def _locked(env: Path) -> Iterator[None]:
    """One builder at a time per environment (another checkout may build the same one)."""
    env.parent.mkdir(parents=True, exist_ok=True)
    with (env.parent / f"{env.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_env(*, rebuild: bool = False) -> Path:
    """The environment's folder: reused when healthy, built otherwise."""
    env = env_dir()
    with _locked(env):
        if rebuild or not healthy(env):
            build(env)
            if not healthy(env):
                raise BuildError(f"{env} was built but fails its health check")
        else:
            _say(f"reusing {env}")
    return env


def freeze(env: Path) -> str:
    """What ``env`` holds, as the text of ``constraints.txt``."""
    listing = subprocess.run(
        [str(env_python(env)), "-m", "pip", "freeze", "--all", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    skipped = ("lmms-eval", "lmms_eval", "torch", "pip", "setuptools", "wheel")
    pins = [
        line
        for line in listing.splitlines()
        if "==" in line and line.split("==")[0].lower() not in skipped
    ]
    header = (
        "# Every package of a working lane environment (written by "
        "`real_lane/build_env.py --freeze`);\n"
        "# used as pip constraints, so a rebuild resolves to the same versions.\n"
    )
    return header + "\n".join([*pins, TORCH]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="delete and build again")
    parser.add_argument("--freeze", action="store_true", help="print the env's pins")
    args = parser.parse_args(argv)
    try:
        env = ensure_env(rebuild=args.rebuild)
    except BuildError as exc:
        print(f"[real-env] {exc}", file=sys.stderr)
        return 1
    print(freeze(env) if args.freeze else env, end="" if args.freeze else "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
