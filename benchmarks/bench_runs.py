"""Evaluation runs: what a poll costs with 1,000 pending jobs, and how fast the ledger writes.

    python benchmarks/bench_runs.py [--jobs 1000] [--ended 10]

Prints:

1. requests per poll interval with ``--jobs`` pending jobs (one running, the rest queued) on
   the local server: an ``EvalRun`` poll when no job ended, and when ``--ended`` jobs left the
   queue in that interval (cancelled); target <= 1 + ended. Beside it the baseline: one
   ``wait_for_job`` per job costs one ``GET /jobs/{id}`` per pending job and interval (N).
2. ledger write throughput: submissions recorded per second (the intent before sending and
   the answer after, two transactions with ``synchronous=FULL``), without the network; and
   ``EvalRun.submit`` end to end against the local server (GET /queue, intent, POST, answer).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

from lmms_eval_client import EvalClient
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs._sync.run import EvalRun
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client.testing import LocalServer, LocalServerConfig

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct", "sim_duration": 3600}


class Counted:
    """An httpx client that counts the requests sent through it."""

    def __init__(self, base_url: str) -> None:
        self.count = 0
        self.http = httpx.Client(
            base_url=base_url, event_hooks={"request": [self._seen]}, trust_env=False
        )

    def _seen(self, request: httpx.Request) -> None:
        self.count += 1


def ledger_throughput(folder: Path, count: int) -> float:
    ledger = Ledger(folder / "throughput.sqlite")
    body = build_evaluate_request(
        "qwen2_vl", ["mme"], QWEN, None, None, None, None, None, True, False, 1, None
    )
    snapshot = QueueSnapshot(("a", "b"), 3, 1).to_json()
    started = time.perf_counter()
    for n in range(count):
        job = ledger.record_intent(
            token=f"t{n}", labels={"epoch": n}, request=body, server="http://127.0.0.1:9",
            owner="bench:1:x", snapshot=snapshot,
        )  # fmt: skip
        ledger.record_answer(job.seq, f"job-{n}", "queued", "answer", {"job_id": f"job-{n}"})
    elapsed = time.perf_counter() - started
    ledger.close()
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="pending jobs (default 1000)")
    parser.add_argument("--ended", type=int, default=10, help="jobs ending in one interval")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    config = LocalServerConfig(job_duration=3600, temp_dir_root=folder)
    with LocalServer(config) as server:
        counted = Counted(server.url)
        with EvalClient(http_client=counted.http) as client:
            run = EvalRun(client, folder / "run.sqlite")
            started = time.perf_counter()
            jobs = [
                run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n})
                for n in range(args.jobs)
            ]
            submit_rate = args.jobs / (time.perf_counter() - started)

            def one_poll() -> tuple[int, float]:
                before, t0 = counted.count, time.perf_counter()
                run.ready()
                return counted.count - before, time.perf_counter() - t0

            idle_requests, idle_time = one_poll()
            for job in jobs[-args.ended :]:  # jobs leave the queued set in this interval
                client.cancel_job(str(job.job_id))
            ended_requests, ended_time = one_poll()
            pending = [job for job in run.jobs() if job.pending]
            before, t0 = counted.count, time.perf_counter()
            for job in pending:  # what one interval of N wait_for_job loops sends
                client.get_job(str(job.job_id))
            baseline_requests, baseline_time = counted.count - before, time.perf_counter() - t0
            run.close()
    rate = ledger_throughput(folder, args.jobs)
    target = 1 + args.ended
    print(f"requests per poll interval, {args.jobs:,} pending jobs (local server, 127.0.0.1):")
    print(
        f"  EvalRun, no job ended:        {idle_requests:>6,} requests  {idle_time * 1e3:8.1f} ms"
    )
    print(
        f"  EvalRun, {args.ended} jobs ended:       {ended_requests:>6,} requests  "
        f"{ended_time * 1e3:8.1f} ms   target <= {target}: "
        f"{'met' if ended_requests <= target and idle_requests <= 1 else 'MISSED'}"
    )
    print(
        f"  baseline, wait_for_job per job: {baseline_requests:>4,} requests  "
        f"{baseline_time * 1e3:8.1f} ms   (N = {len(pending):,} pending)"
    )
    print("ledger write throughput:")
    print(f"  intent + answer recorded (synchronous=FULL): {rate:8,.0f} submissions/s")
    print(f"  EvalRun.submit end to end (local server):    {submit_rate:8,.0f} submissions/s")
    return 0 if ended_requests <= target and idle_requests <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
