"""False "the job may exist" alarms: submissions after idle pauses near the server's keep-alive.

uvicorn (which lmms-eval and the local server run) closes a connection idle for 5 s. A
client that sends on it just then gets the connection closed under its request:
``APIConnectionError(may_have_been_sent=True)``, and a submission is never resent blindly,
so the caller is told the job may exist although the server never saw it. Our clients drop
idle connections after 1 s (httpx: 5 s, the same as uvicorn).

Each run: ``pausers`` clients (threads with an EvalClient each, or tasks with an
AsyncEvalClient each) submit once, then ``submissions / pausers`` times pause 4.95-5.05 s
and submit again. A false alarm is a submission that failed with may_have_been_sent=True
while the server did not get it: the server's job count (GET /queue) tells how many it got.

    python benchmarks/bench_false_alarms.py                  # 1,000 submissions per run
    python benchmarks/bench_false_alarms.py --submissions 200 --pausers 50
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench_common import CpuPlan, Row, Section, Target, render_text
from bench_server import ServerProcess

from lmms_eval_client import APIConnectionError, AsyncEvalClient, EvalClient

PAUSE = (4.95, 5.05)  # seconds: straddles uvicorn's 5 s keep-alive timeout
# Before: our pool kept idle connections as long as httpx does by default.
HTTPX_DEFAULT = httpx.Limits(max_connections=100, max_keepalive_connections=100)
CONFIGS: dict[str, httpx.Limits | None] = {
    "keep-alive 5 s (httpx default, before)": HTTPX_DEFAULT,
    "keep-alive 1 s (ours)": None,
}
TARGET_PER_1000 = 1.0  # < 0.1 %
SUBMISSION = {
    "model": "qwen2_vl",
    "tasks": ["mme"],
    "model_args": {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"},
    "log_samples": False,
}


@dataclass
class Tally:
    sent: int = 0  # submissions after a pause
    ok: int = 0
    alarms: int = 0  # APIConnectionError with may_have_been_sent=True
    other: int = 0  # any other error
    warmups: int = 0  # the first submission of each pauser (not after a pause)

    def add(self, error: BaseException | None) -> None:
        self.sent += 1
        if error is None:
            self.ok += 1
        elif isinstance(error, APIConnectionError) and error.may_have_been_sent:
            self.alarms += 1
        else:
            self.other += 1


def server_jobs(url: str) -> int:
    with httpx.Client(base_url=url, timeout=30.0) as http:
        queue = http.get("/queue").raise_for_status().json()
    running = 1 if queue["running_job"] is not None else 0
    return int(queue["queue_size"] + running + queue["completed_jobs"] + queue["failed_jobs"])


def run_sync(url: str, limits: httpx.Limits | None, pausers: int, rounds: int) -> Tally:
    tally, lock = Tally(), threading.Lock()

    def pauser(seed: int) -> None:
        rng = random.Random(seed)
        kwargs = {} if limits is None else {"limits": limits}
        with EvalClient(url, **kwargs) as client:  # type: ignore[arg-type]
            client.evaluate(**SUBMISSION)  # type: ignore[arg-type]
            with lock:
                tally.warmups += 1
            for _ in range(rounds):
                time.sleep(rng.uniform(*PAUSE))
                error: BaseException | None = None
                try:
                    client.evaluate(**SUBMISSION)  # type: ignore[arg-type]
                except Exception as exc:
                    error = exc
                with lock:
                    tally.add(error)

    with ThreadPoolExecutor(max_workers=pausers) as pool:
        list(pool.map(pauser, range(pausers)))
    return tally


async def run_async(url: str, limits: httpx.Limits | None, pausers: int, rounds: int) -> Tally:
    tally = Tally()

    async def pauser(seed: int) -> None:
        rng = random.Random(seed)
        kwargs = {} if limits is None else {"limits": limits}
        async with AsyncEvalClient(url, **kwargs) as client:  # type: ignore[arg-type]
            await client.evaluate(**SUBMISSION)  # type: ignore[arg-type]
            tally.warmups += 1
            for _ in range(rounds):
                await asyncio.sleep(rng.uniform(*PAUSE))
                try:
                    await client.evaluate(**SUBMISSION)  # type: ignore[arg-type]
                except Exception as exc:
                    tally.add(exc)
                else:
                    tally.add(None)

    await asyncio.gather(*(pauser(seed) for seed in range(pausers)))
    return tally


def run_false_alarms(
    workdir: Path, cpus: CpuPlan, submissions: int = 1000, pausers: int = 100
) -> Section:
    """One run per client kind and keep-alive setting, each against a fresh server."""
    rounds = max(1, submissions // pausers)
    section = Section()
    for config, limits in CONFIGS.items():
        for kind in ("sync", "async"):
            name = f"alarms-{kind}-{'ours' if limits is None else 'httpx'}"
            with ServerProcess(name, workdir, job_duration=3600.0, cpu=cpus.server) as server:
                started = time.perf_counter()
                if kind == "sync":
                    tally = run_sync(server.url, limits, pausers, rounds)
                else:
                    tally = asyncio.run(run_async(server.url, limits, pausers, rounds))
                elapsed = time.perf_counter() - started
                seen = server_jobs(server.url) - tally.warmups
            reached = seen - tally.ok  # alarms whose submission the server did get
            false_alarms = tally.alarms - reached
            duplicates = max(0, seen - tally.sent)
            per_1000 = 1000 * false_alarms / tally.sent
            ours = limits is None
            target = (
                Target(
                    f"false alarms ({kind})",
                    per_1000 < TARGET_PER_1000 and duplicates == 0,
                    f"{per_1000:.1f} per 1,000 (< {TARGET_PER_1000:g}), {duplicates} duplicates",
                )
                if ours
                else None
            )
            section.rows.append(
                Row(
                    "false alarms",
                    f"{kind}, {tally.sent:,} submissions after 4.95-5.05 s pauses",
                    config,
                    f"{per_1000:.1f} per 1,000 ({false_alarms} false, {reached} true alarms, "
                    f"{tally.other} other errors); server got {seen:,} of {tally.sent:,} "
                    f"sent, {duplicates} duplicates; {elapsed:.0f} s",
                    target=target,
                )
            )
    return section


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000, help="per run (default 1000)")
    parser.add_argument("--pausers", type=int, default=100, help="concurrent clients (100)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lmms-eval-client-alarms-") as tmp:
        section = run_false_alarms(Path(tmp), CpuPlan.choose(False), args.submissions, args.pausers)
    print(render_text(section.rows), flush=True)
    missed = [target for target in section.targets if not target.met]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
