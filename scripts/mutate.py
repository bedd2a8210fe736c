"""Mutation run: break each promise on purpose, one at a time, and see a test fail.

    python scripts/mutate.py                 every mutation of scripts/mutations.toml
    python scripts/mutate.py --only retry    those whose name contains "retry"
    python scripts/mutate.py --list          the mutations, without running anything

Each mutation is an exact text replacement in one file (``old`` must occur exactly once,
so an entry that no longer matches the code stops the run instead of testing nothing).
The mutations are applied to a copy of the working tree in a temporary directory (the
tree itself is never written, so Ctrl+C cannot leave it broken), imported from there via
PYTHONPATH, and each is tested with ``pytest -x -q -p no:cacheprovider <its tests>``.
A change to an async source (``_client/_async/client.py``, say) is carried into its
generated ``_sync/`` twin by ``codegen/make_sync.py``, so that both classes break. First the
tests of every mutation run once unmutated: a failure there would make every "killed"
meaningless.

Prints a table (mutation | killed by: the first failing test, or SURVIVED) and exits 1
when a mutation survived. Not part of ``make test``: ``make mutate``, a few minutes.

Why not mutmut: its mutants are generated operator by operator, hundreds per module, many
equivalent (no test can kill them), so "0 survivors" is no target a suite can hold; and
it would mutate the generated ``_sync/client.py`` apart from its async source. A short
list of named mutations of the promises the docs make is a target that can be kept.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "scripts" / "mutations.toml"
# A mutated async source is carried into its generated sync twin by this generator: every
# <package>/_async/<name>.py but the hand-written _io.py (codegen/make_sync.py's GENERATED).
SYNC_GENERATOR = "codegen/make_sync.py"


def generated_twin(file: str) -> str | None:
    """``.../_client/_async/client.py`` -> ``.../_client/_sync/client.py``; None: no twin."""
    path = Path(file)
    if path.parent.name != "_async" or path.name == "_io.py":
        return None
    return str(path.parent.parent / "_sync" / path.name)


PER_TEST_TIMEOUT = 60  # seconds: a mutation that makes a test hang fails it (pytest-timeout)
RUN_TIMEOUT = 1800  # seconds for one pytest run of a mutation's tests
FIRST_FAILURE = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


def load(path: Path) -> list[Mutation]:
    """The mutations of the data file, each checked against the working tree."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise SystemExit("scripts/mutate.py needs Python >= 3.11 (tomllib)") from None
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("mutation", [])
    mutations, problems, names = [], [], set()
    for number, entry in enumerate(entries, 1):
        label = entry.get("name", f"entry {number}")
        missing = {"name", "file", "old", "new", "tests"} - set(entry)
        if missing:
            problems.append(f"{label}: missing {', '.join(sorted(missing))}")
            continue
        if label in names:
            problems.append(f"{label}: the name is used twice")
        names.add(label)
        target = ROOT / entry["file"]
        if not target.is_file():
            problems.append(f"{label}: no file {entry['file']}")
            continue
        count = target.read_text(encoding="utf-8").count(entry["old"])
        if count != 1:
            problems.append(f"{label}: `old` occurs {count} times in {entry['file']}, not once")
        if entry["old"] == entry["new"] or not entry["tests"]:
            problems.append(f"{label}: `new` must differ from `old`, and `tests` be non-empty")
        mutations.append(
            Mutation(label, entry["file"], entry["old"], entry["new"], tuple(entry["tests"]))
        )
    if problems:
        raise SystemExit(
            f"{path.relative_to(ROOT)} does not match the code:\n  - " + "\n  - ".join(problems)
        )
    return mutations


def copy_tree(dest: Path) -> None:
    """The working tree as it is on disk (tracked and untracked files, not the ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a deleted, not yet committed file is listed too
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def forget_bytecode(path: Path) -> None:
    """Remove a rewritten source file's cached bytecode, so that a file rewritten at the same
    size within the second it was compiled is never run stale (the tests' processes write
    bytecode: tests/conftest.py)."""
    Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)


def write(path: Path, text: str) -> None:
    """Write a source file of the copy, its cached bytecode removed."""
    path.write_text(text, encoding="utf-8")
    forget_bytecode(path)


def environment(copy: Path) -> dict[str, str]:
    """Imports from the copy (PYTHONPATH comes before the editable install's paths); this
    script's own processes write no bytecode (the tests' do: see ``write``)."""
    paths = [str(copy / "src"), str(copy / "generated")]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"}


def check_imports_from(copy: Path, env: dict[str, str]) -> None:
    code = "import lmms_eval_client as c, lmms_eval_api as a; print(c.__file__); print(a.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=copy, env=env, capture_output=True, text=True
    )
    found = done.stdout.split()
    if done.returncode != 0 or not all(Path(f).is_relative_to(copy) for f in found):
        raise SystemExit(f"the copy's packages are not the ones imported: {found} {done.stderr}")


def pytest(copy: Path, env: dict[str, str], tests: tuple[str, ...]) -> tuple[int, str]:
    """Run the tests in the copy: pytest's exit code and output."""
    command = [
        sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
        "-o", f"timeout={PER_TEST_TIMEOUT}",
        # a loop that never ends may have logged millions of lines: never print them
        "--show-capture=no", *tests,
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, cwd=copy, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return -1, f"no result within {RUN_TIMEOUT} s"
    return done.returncode, done.stdout + done.stderr


def verdict(code: int, output: str) -> str | None:
    """What killed the mutation (the first failing test), or None if it survived."""
    if code == 0:
        return None
    failed = FIRST_FAILURE.search(output)
    if failed:
        return failed.group(1)
    if code == 5:
        raise SystemExit(f"no test was collected:\n{output[-2000:]}")
    last = output.strip().splitlines()[-1] if output.strip() else ""
    return f"pytest exit {code}: {last[:80]}"


def apply(copy: Path, env: dict[str, str], mutation: Mutation) -> dict[Path, str]:
    """Apply a mutation in the copy (and regenerate); the originals of the files changed."""
    target = copy / mutation.file
    originals = {target: target.read_text(encoding="utf-8")}
    write(target, originals[target].replace(mutation.old, mutation.new, 1))
    twin = generated_twin(mutation.file)
    if twin is not None:
        generator = SYNC_GENERATOR
        twin_path = copy / twin
        originals[twin_path] = twin_path.read_text(encoding="utf-8")
        done = subprocess.run(
            [sys.executable, generator], cwd=copy, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"{generator} failed: {done.stdout}{done.stderr}")
        if twin_path.read_text(encoding="utf-8") == originals[twin_path]:
            raise RuntimeError(f"the mutation did not reach {twin}")
        forget_bytecode(twin_path)
    return originals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="name contains (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutations and stop")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    args = parser.parse_args()
    mutations = load(DATA)
    if args.only:
        mutations = [m for m in mutations if any(o.lower() in m.name.lower() for o in args.only)]
    if args.list or not mutations:
        for m in mutations:
            print(f"{m.name}: {m.file} -> {' '.join(m.tests)}")
        return 0 if mutations else 1

    results: list[tuple[str, str, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="lmms-eval-client-mutate-") as tmp:
            copy = Path(tmp)
            copy_tree(copy)
            env = environment(copy)
            check_imports_from(copy, env)
            if not args.no_baseline:
                selection = tuple(dict.fromkeys(t for m in mutations for t in m.tests))
                print(f"unmutated run of {len(selection)} test files ...", flush=True)
                code, output = pytest(copy, env, selection)
                if code != 0:
                    print(output[-4000:])
                    print("the tests fail without any mutation: fix them first")
                    return 2
            for number, mutation in enumerate(mutations, 1):
                started = time.monotonic()
                originals = apply(copy, env, mutation)
                try:
                    code, output = pytest(copy, env, mutation.tests)
                finally:
                    for path, text in originals.items():
                        write(path, text)
                killer = verdict(code, output)
                took = time.monotonic() - started
                results.append((mutation.name, killer or "SURVIVED", took))
                print(
                    f"[{number}/{len(mutations)}] {mutation.name}: {killer or 'SURVIVED'}",
                    flush=True,
                )
    except KeyboardInterrupt:
        print("\ninterrupted; the working tree was never modified (mutations ran in a copy)")
        return 130

    width = max(len("mutation"), *(len(name) for name, _, _ in results))
    print(f"\n| {'mutation'.ljust(width)} | killed by | s |")
    print(f"| {'-' * width} | --- | --: |")
    for name, killer, took in results:
        print(f"| {name.ljust(width)} | {killer} | {took:.0f} |")
    survived = [name for name, killer, _ in results if killer == "SURVIVED"]
    print(f"\n{len(results) - len(survived)} killed, {len(survived)} survived")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
