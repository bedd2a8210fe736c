"""The command line's start-up: what a person (or a script) waits for, each command a fresh
process, against the floor that does the same with nothing of ours.

1. ``lmms-eval-client status JOB`` against the local server vs a fresh Python doing the
   raw GET with httpx (``httpx.get(url).json()``); target <= 1.3x. For context (no
   target), the raw GET plus each library ``status`` stands on, alone: ``import typer``,
   pydantic's ``BaseModel``, and the generated ``JobInfo`` model validating the answer.
2. ``lmms-eval-client --help`` vs the ``--help`` of a two-command typer app (typer's
   help with rich, as ours); target <= 1.5x.

Gross wall times (the interpreter's start-up included, as a shell sees them), medians of
``runs`` interleaved runs; the console script is run as its entry point does it
(``lmms_eval_client.cli.main``), by this interpreter.

    python benchmarks/bench_cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from bench_common import Row, Section, fmt_ms, median, ratio_target, render_text
from bench_imports import _wall, interpreter_env
from bench_server import ServerProcess

STATUS_TARGET = 1.30
HELP_TARGET = 1.50

# The console script, as pip's wrapper runs it (argv[0] is the script's name).
OURS = "import sys; sys.argv[0] = 'lmms-eval-client'; from lmms_eval_client.cli import main; main()"
RAW_GET = "import sys, httpx; print(httpx.get(sys.argv[1]).json()['status'])"
# For context, no target: the least a typed `status` does, the raw GET validated into the
# generated JobInfo model (pydantic's model machinery and the models, which the floor lacks).
TYPED_GET = (
    "import sys, httpx; from lmms_eval_api.models import JobInfo; "
    "print(JobInfo.model_validate(httpx.get(sys.argv[1]).json()).status)"
)
# For context, no target: what each of the two libraries under ``status`` costs alone, on
# top of the raw GET (the parser, typer; and pydantic's model machinery, imported as every
# model imports it, before any model of ours exists).
PLUS_TYPER = "import typer; " + RAW_GET
PLUS_PYDANTIC = "from pydantic import BaseModel; " + RAW_GET
TYPER_APP = '''import typer

app = typer.Typer()


@app.command()
def hello(name: str) -> None:
    """Say hello."""
    print(f"hello {name}")


@app.command()
def bye(name: str) -> None:
    """Say goodbye."""
    print(f"bye {name}")


app()
'''


def _completed_job(url: str) -> str:
    with httpx.Client(base_url=url, timeout=10) as client:
        body = {"model": "qwen2_vl", "tasks": ["mme"], "model_args": {"pretrained": "x/y"}}
        job_id: str = client.post("/evaluate", json=body).json()["job_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/jobs/{job_id}").json()["status"] != "completed":
            if time.monotonic() > deadline:
                raise RuntimeError("the benchmark's job did not complete")
            time.sleep(0.05)
    return job_id


def run_cli(workdir: Path, runs: int) -> Section:
    env = interpreter_env(workdir)
    app = workdir / "two_command_app.py"
    app.write_text(TYPER_APP)
    with ServerProcess("cli", workdir, job_duration=0.05) as server:
        job = _completed_job(server.url)
        commands: dict[str, list[str]] = {
            "raw": ["-c", RAW_GET, f"{server.url}/jobs/{job}"],
            "typed": ["-c", TYPED_GET, f"{server.url}/jobs/{job}"],
            "typer only": ["-c", PLUS_TYPER, f"{server.url}/jobs/{job}"],
            "pydantic only": ["-c", PLUS_PYDANTIC, f"{server.url}/jobs/{job}"],
            "status": ["-c", OURS, "--server", server.url, "status", job],
            "typer": [str(app), "--help"],
            "help": ["-c", OURS, "--help"],
        }
        for argv in commands.values():  # warm the file system and the bytecode caches
            _wall(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for i in range(runs):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(_wall(commands[name], env))
    took = {name: median(values) for name, values in samples.items()}
    status, help_ = took["status"] / took["raw"], took["help"] / took["typer"]
    section = Section()
    section.rows += [
        Row("cli", "status JOB, gross median (ms)", "python + raw httpx GET", fmt_ms(took["raw"])),
        *(
            Row(
                "cli",
                "status JOB, gross median (ms)",
                f"python + raw httpx GET + {what}",
                fmt_ms(took[name]),
                f"{took[name] / took['raw']:.2f}x",
            )
            for name, what in (
                ("typer only", "import typer"),
                ("pydantic only", "pydantic's BaseModel"),
            )
        ),
        Row(
            "cli",
            "status JOB, gross median (ms)",
            "python + httpx GET + JobInfo model",
            fmt_ms(took["typed"]),
            f"{took['typed'] / took['raw']:.2f}x",
        ),
        Row(
            "cli",
            "status JOB, gross median (ms)",
            "lmms-eval-client status (ours)",
            fmt_ms(took["status"]),
            *ratio_target("cli status", status, STATUS_TARGET, "raw"),
        ),
        Row("cli", "--help, gross median (ms)", "two-command typer app", fmt_ms(took["typer"])),
        Row(
            "cli",
            "--help, gross median (ms)",
            "lmms-eval-client --help (ours)",
            fmt_ms(took["help"]),
            *ratio_target("cli --help", help_, HELP_TARGET, "typer"),
        ),
    ]
    section.notes.append(
        f"cli: {runs} fresh processes per command, interleaved; gross wall time (start-up "
        "included); status of a completed job on the local server; the typer app has two "
        "commands and typer's rich help, as ours. 'httpx GET + JobInfo model' (no target) "
        "is the least a typed status does: the raw GET, validated into the generated model; "
        "'+ import typer' and \"+ pydantic's BaseModel\" (no target) are what each library "
        "under status costs alone, on top of the raw GET."
    )
    return section


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench_cli_") as tmp:
        section = run_cli(Path(tmp), args.runs)
    print(render_text(section.rows))
    print("\n".join(section.notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
