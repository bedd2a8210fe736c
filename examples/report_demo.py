"""See a run: 6 checkpoints evaluated on a local server, one HTML report written.

    python examples/report_demo.py [-o build/report-demo/report.html]

Starts a local lmms-eval-compatible server (``lmms_eval_client.testing``; or uses
$LMMS_EVAL_BASE_URL), submits one job per checkpoint of a pretend training run (labels
``{"step": n}``, samples logged; step 400's job fails with a simulated out-of-memory
error), waits for them, then writes the report with step 600's samples and the comparison
of steps 100 and 600, and prints its path. ``make demo-report`` runs it.
``--screenshot PNG`` also takes a picture of it in headless Chromium (through
scripts/docs_screenshots.py): the README's docs/images/report.png is one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from lmms_eval_client import EvalClient, EvalRun, LmmsEvalError

STEPS = (100, 200, 300, 400, 500, 600)


@contextlib.contextmanager
def server_url(root: str) -> Iterator[tuple[str, bool]]:
    remote = os.environ.get("LMMS_EVAL_BASE_URL")
    if remote:
        yield remote, False
        return
    from lmms_eval_client.testing import LocalServer, LocalServerConfig

    with LocalServer(LocalServerConfig(job_duration=0.05, temp_dir_root=root)) as server:
        yield server.url, True


def make_report(out: Path, tasks: Sequence[str] = ("mme", "pope")) -> Path:
    """Run the 6 checkpoints and write their report to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="report-demo-") as root:
        ledger = Path(root) / "evals.sqlite"
        with (
            server_url(root) as (url, local),
            EvalClient(url) as client,
            EvalRun(client, ledger, poll_interval=0.05) as run,
        ):
            for step in STEPS:
                model_args = {"pretrained": f"demo-org/ckpt-step-{step}"}
                if local and step == 400:
                    model_args["sim_error"] = "torch.OutOfMemoryError: CUDA out of memory"
                run.submit(
                    "qwen2_vl", list(tasks), model_args=model_args, limit=60,
                    log_samples=True, labels={"step": step}, key=f"step-{step}",
                )  # fmt: skip
            list(run.as_completed(timeout=300))
            return run.report(
                out,
                samples_job="step-600",
                compare_jobs=("step-100", "step-600"),
                title="Demo run: 6 checkpoints",
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("build/report-demo/report.html"))
    parser.add_argument("--screenshot", type=Path, help="also write a PNG of the page here")
    args = parser.parse_args(argv)
    path = make_report(args.out)
    print(f"report written: {path.resolve()}")
    if args.screenshot:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
        from docs_screenshots import load

        page = load(path.resolve().as_uri(), 1200, 1000)
        args.screenshot.write_bytes(page.png)
        print(f"screenshot: {args.screenshot}" + "".join(f"\n  {e}" for e in page.errors))
        return 1 if page.errors else 0
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LmmsEvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
