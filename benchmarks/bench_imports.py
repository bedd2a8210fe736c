"""Import time in fresh interpreters, net of the interpreter's own start-up.

Each snippet runs ``runs`` times, the snippets interleaved (rotated per round); the net
time of a snippet is its median wall time minus the median of ``python -c pass``. The
targets: ``import lmms_eval_client``, and what users write first (``from lmms_eval_client
import EvalClient``, ``AsyncEvalClient``, ``EvalRun``), each within 1.2x of ``import httpx,
pydantic``. When one is missed, ``python -X importtime`` says which modules make the
difference for the slowest.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench_common import Row, Section, Target, fmt_ms, fmt_ratio, median, ratio_target

IMPORT_TARGET = 1.20

BARE = "pass"
FLOOR = "import httpx, pydantic"
OURS = "import lmms_eval_client"
# What users write first: the class they use (``import lmms_eval_client`` itself loads
# names lazily, on first use). Each is held to the target.
USER_IMPORTS = {
    "from lmms_eval_client import EvalClient": "EvalClient (ours)",
    "from lmms_eval_client import AsyncEvalClient": "AsyncEvalClient (ours)",
    "from lmms_eval_client import EvalRun": "EvalRun (ours)",
}
# For context: pydantic's top-level import is lazy and does not load BaseModel; any SDK
# with pydantic models pays for this one.
MODEL_FLOOR = "import httpx; from pydantic import BaseModel"
LMMS_EVAL = "import lmms_eval.entrypoints.client"

SNIPPETS: dict[str, str] = {
    BARE: "python -c pass (subtracted)",
    FLOOR: "httpx + pydantic",
    OURS: "lmms_eval_client (ours)",
    **USER_IMPORTS,
    MODEL_FLOOR: "httpx + pydantic.BaseModel",
    LMMS_EVAL: "lmms-eval client",
}

_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def interpreter_env(workdir: Path) -> dict[str, str]:
    """The environment of the timed interpreters: bytecode cached for every module.

    pip byte-compiles what it installs, but an editable install (or a source checkout) is
    only compiled on import, and not at all under PYTHONDONTWRITEBYTECODE: the caches go
    to the run's own directory (PYTHONPYCACHEPREFIX), so nothing is written to src/.
    """
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(workdir / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _wall(code: str | list[str], env: dict[str, str]) -> float:
    """Seconds a fresh interpreter takes to run ``code`` (or these arguments) and exit."""
    args = ["-c", code] if isinstance(code, str) else code
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def run_imports(workdir: Path, runs: int, profile_runs: int) -> Section:
    env = interpreter_env(workdir)
    codes = list(SNIPPETS)
    for code in codes:  # warm the file system and write the bytecode caches
        _wall(code, env)
    samples: dict[str, list[float]] = {code: [] for code in codes}
    for i in range(runs):
        shift = i % len(codes)
        for code in codes[shift:] + codes[:shift]:
            samples[code].append(_wall(code, env))

    bare = median(samples[BARE])
    net = {code: median(samples[code]) - bare for code in codes}
    section = Section()
    for code, label in SNIPPETS.items():
        if code == BARE:
            value, shown_ratio = f"{fmt_ms(bare)} (gross)", ""
        else:
            value = fmt_ms(net[code])
            shown_ratio = "floor" if code == FLOOR else fmt_ratio(net[code], net[FLOOR])
        target: Target | None = None
        if code == OURS or code in USER_IMPORTS:
            name = "import time" if code == OURS else f"{SNIPPETS[code].split()[0]} import"
            shown_ratio, target = ratio_target(name, net[code] / net[FLOOR], IMPORT_TARGET, "raw")
        section.rows.append(
            Row("import", "import, net median (ms)", label, value, shown_ratio, target)
        )
    section.notes.append(
        f"import: {runs} fresh interpreters per snippet, interleaved; each minus "
        f"`python -c pass`, against `{code_of(FLOOR)}`; bytecode cached for every module. "
        f"`import pydantic` is lazy and loads no model machinery (`{code_of(MODEL_FLOOR)}`: "
        f"{net[MODEL_FLOOR] / net[FLOOR]:.2f}x): the client classes load their models with "
        "the first request."
    )
    worst = max([OURS, *USER_IMPORTS], key=lambda code: net[code])
    if net[worst] / net[FLOOR] > IMPORT_TARGET:
        section.notes += importtime_breakdown(profile_runs, env, worst)
    return section


def code_of(code: str) -> str:
    return f"python -c '{code}'"


OWN_PACKAGES = ("lmms_eval_client", "lmms_eval_api")


@dataclass(frozen=True)
class ImportProfile:
    """One ``python -X importtime`` run: self time and importer of every module."""

    self_time: dict[str, float]  # seconds
    parent: dict[str, str | None]


def _importtime(code: str, env: dict[str, str]) -> ImportProfile:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    rows = []
    for line in done.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            rows.append((len(match.group(3)), match.group(4), int(match.group(1)) / 1e6))
    # The report lists a module after the modules it imports, indented one step deeper:
    # read backwards, every module comes right after its importer.
    self_time: dict[str, float] = {}
    parent: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for depth, module, seconds in reversed(rows):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent.setdefault(module, stack[-1][1] if stack else None)
        self_time[module] = self_time.get(module, 0.0) + seconds
        stack.append((depth, module))
    return ImportProfile(self_time, parent)


def _top(module: str) -> str:
    return module.split(".")[0]


def _own_group(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "lmms_eval_api" and len(parts) > 1 and parts[1] in ("models", "api"):
        return ".".join(parts[:2]) + ".*"
    return module


def _group(module: str, parent: dict[str, str | None]) -> str:
    """Our own modules by name; any other by the package our code imported it through."""
    if _top(module) in OWN_PACKAGES:
        return f"{_own_group(module)} (own code)"
    child, importer = module, parent.get(module)
    seen = {module}
    while importer is not None and _top(importer) not in OWN_PACKAGES and importer not in seen:
        seen.add(importer)  # a name the report lists twice must not loop
        child, importer = importer, parent.get(importer)
    if importer in seen:
        importer = None
    if importer is None:
        return _top(module)
    return f"{_top(child)}, imported by {_own_group(importer)}"


def importtime_breakdown(runs: int, env: dict[str, str], code: str = OURS) -> list[str]:
    """What ``code`` imports beyond `import httpx, pydantic`, and its cost."""
    ours = [_importtime(code, env) for _ in range(runs)]
    floor_modules = set().union(*(_importtime(FLOOR, env).self_time for _ in range(runs)))
    modules = set().union(*(run.self_time for run in ours)) - floor_modules
    extra = {m: statistics.median(run.self_time.get(m, 0.0) for run in ours) for m in modules}
    groups: dict[str, float] = defaultdict(float)
    for module, seconds in extra.items():
        groups[_group(module, ours[0].parent)] += seconds
    lines = [
        f"import profile (python -X importtime, median of {runs}; self times, inflated by the "
        f"profiler): `{code}` loads {len(extra)} modules that "
        f"`import httpx, pydantic` does not, {fmt_ms(sum(extra.values()))} ms of self time:"
    ]
    for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1])[:12]:
        lines.append(f"    {fmt_ms(seconds):>6} ms  {name}")
    return lines
