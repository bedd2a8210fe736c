"""A training loop of four checkpoints, run as its own process by test_run_restarts.py.

    python training_script.py SERVER_URL LEDGER OUTPUT_ROOT MODEL_ARGS_JSON DONE_FILE
        [--die-after-submit N] [--die-before-ack]

Each "checkpoint" is submitted under its key (``ckpt-<n>``, labels ``{"step": n * 100}``),
so a rerun sends nothing it already sent. Outcomes are taken with ``run.harvesting()``:
each key processed is appended to DONE_FILE inside the block, and acknowledged when the
block ends. ``--die-after-submit N`` kills this process (SIGKILL) right after the N-th
submission; ``--die-before-ack`` kills it inside the first harvesting block that got an
outcome, after processing it and before it is acknowledged: the outcome must come again.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

from lmms_eval_client import FIRST_COMPLETED, EvalClient, EvalRun

CHECKPOINTS = 4
TASK = "client_lane_arith"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("server", "ledger", "output_root", "model_args", "done_file"):
        parser.add_argument(name)
    parser.add_argument("--die-after-submit", type=int, default=0)
    parser.add_argument("--die-before-ack", action="store_true")
    args = parser.parse_args()
    model_args = json.loads(args.model_args)
    done = Path(args.done_file)
    with (
        EvalClient(args.server) as client,
        EvalRun(client, args.ledger, output_root=args.output_root, poll_interval=0.5) as run,
    ):
        for n in range(1, CHECKPOINTS + 1):
            run.submit(
                "openai", [TASK], model_args=model_args, key=f"ckpt-{n}", labels={"step": n * 100}
            )
            if n == args.die_after_submit:
                die()
        while any(job.pending for job in run.jobs()) or not done_all(run, done):
            with run.harvesting() as outcomes:
                for outcome in outcomes:
                    with done.open("a") as out:
                        out.write(f"{outcome.job.key} {outcome.kind}\n")
                    if args.die_before_ack:
                        die()
            run.wait(timeout=300, return_when=FIRST_COMPLETED)
        table = run.to_pandas()
        print(table.pivot_table(index="step", columns="metric", values="value").to_json())


def done_all(run: EvalRun, done: Path) -> bool:
    """Whether every job's outcome was acknowledged (harvested)."""
    return all(job.harvested for job in run.jobs() if not job.superseded)


if __name__ == "__main__":
    main()
