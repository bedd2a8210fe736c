"""Evaluate every checkpoint as training writes it: ``make demo-watch`` runs it.

A fake trainer (this script) writes five checkpoint folders, weights first and
``trainer_state.json`` last, as HF's Trainer does; the watcher (``lmms-eval-client watch``,
a process of its own) submits each complete one into a run ledger. Halfway, the watcher is
killed (SIGKILL) and started again: the ledger holds what it had submitted, so it submits
none twice. At the end: the jobs in the ledger and on the server, and metric vs step.

Which server: ``LMMS_EVAL_BASE_URL`` if set; else a local lmms-eval-compatible server
started in this process (simulated jobs of ``--job-duration`` seconds).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lmms_eval_client import EvalClient, EvalRun

WATCH = "from lmms_eval_client.cli import main; main()"
TIMEOUT = 120.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-duration", type=float, default=0.3, help="local server only")
    parser.add_argument("--folder", type=Path, help="where to write (default: a temp folder)")
    return parser.parse_args(argv)


@contextlib.contextmanager
def server_url(job_duration: float, root: Path) -> Iterator[str]:
    remote = os.environ.get("LMMS_EVAL_BASE_URL")
    if remote:
        yield remote
        return
    from lmms_eval_client.testing import LocalServer, LocalServerConfig

    config = LocalServerConfig(job_duration=job_duration, temp_dir_root=root)
    with LocalServer(config) as server:
        print(f"Started a local lmms-eval-compatible server at {server.url}")
        yield server.url


def write_checkpoint(out: Path, step: int, *, marker: bool = True) -> None:
    """What the trainer leaves: weights, then the marker written last."""
    folder = out / f"checkpoint-{step}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(os.urandom(1024))
    if marker:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    print(f"trainer: wrote {folder.name}{'' if marker else ' (weights only, no marker yet)'}")


class Watcher:
    """``lmms-eval-client watch`` as a process; its JSON lines read in a thread."""

    def __init__(self, url: str, out: Path, ledger: Path, name: str) -> None:
        self.name = name
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.process = subprocess.Popen(
            [
                sys.executable, "-c", WATCH, "--server", url, "watch", str(out), "--ledger",
                str(ledger), "-m", "qwen2_vl", "-t", "mme", "-a", "pretrained={checkpoint}",
                "--poll-interval", "0.2", "--json",
            ],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self.lines.put(json.loads(text))
        self.lines.put(None)

    def until(self, submitted: int) -> None:
        """Show its lines until it has submitted ``submitted`` checkpoints."""
        count = 0
        while count < submitted:
            line = self.lines.get(timeout=TIMEOUT)
            if line is None:
                raise SystemExit(f"{self.name} ended early (exit {self.process.wait()})")
            if line["event"] == "submitted":
                count += 1
                print(f"{self.name}: submitted {line['key']} (step {line['step']})")
            else:
                print(f"{self.name}: {line['kind']} {line['key']} {line.get('metrics', {})}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with contextlib.ExitStack() as stack:
        root = args.folder or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        out, ledger = root / "out", root / "evals.sqlite"
        out.mkdir(parents=True, exist_ok=True)
        url = stack.enter_context(server_url(args.job_duration, root))

        first = Watcher(url, out, ledger, "watcher")
        write_checkpoint(out, 100)
        write_checkpoint(out, 200)
        first.until(submitted=2)
        first.process.kill()  # SIGKILL: no clean-up, the ledger is all that is left
        first.process.wait()
        print("watcher: killed (SIGKILL) halfway")

        write_checkpoint(out, 300)
        write_checkpoint(out, 400)
        write_checkpoint(out, 500, marker=False)  # still being written: not submitted
        again = Watcher(url, out, ledger, "watcher (restarted)")
        again.until(submitted=2)
        (out / "checkpoint-500" / "trainer_state.json").write_text("{}")
        print("trainer: checkpoint-500 complete")
        again.until(submitted=1)

        with EvalClient(url) as client, EvalRun(client, ledger) as run:
            run.wait(timeout=TIMEOUT)  # the evaluations still running
            again.process.send_signal(signal.SIGINT)  # Ctrl+C: stops watching
            again.process.wait(timeout=TIMEOUT)
            jobs = run.jobs()
            queue_now = client.get_queue_status()
            print(
                f"\n{len(jobs)} checkpoints submitted, keys {[job.key for job in jobs]}; "
                f"the server holds {queue_now.completed_jobs + queue_now.failed_jobs} "
                "finished jobs: none submitted twice"
            )
            print("\nstep  task  metric            value")
            for row in run.metrics():
                print(f"{row.labels['step']:>4}  {row.task:<4}  {row.metric:<16}  {row.value}")


if __name__ == "__main__":
    main()
