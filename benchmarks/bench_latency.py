"""Per-call latency: raw httpx, lmms-eval 0.7.3's clients and ours, interleaved.

Every iteration calls each variant once, in an order rotated by one per iteration, so
that drifts of the machine (frequency, other load) fall on every variant alike.

Two servers: ``read`` holds one completed job (with result files) for get_job and
get_queue_status; ``write`` takes the submissions of evaluate. Its worker is parked on
a first job of an hour, so the others stay queued: a submission costs the server the
same whatever the queue's length (it is appended; nothing scans the queue), and no
simulated evaluation writes files while the submissions are being timed.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from bench_common import (
    CpuPlan,
    Row,
    Section,
    Target,
    fmt_ratio,
    fmt_us,
    median,
    p90,
    ratio_target,
)
from bench_server import ServerProcess
from lmms_eval.entrypoints.client import (  # type: ignore[import-untyped]
    AsyncEvalClient as LmmsAsyncEvalClient,
)
from lmms_eval.entrypoints.client import (
    EvalClient as LmmsEvalClient,
)

from lmms_eval_client import AsyncEvalClient, EvalClient

CALLS = ("get_job", "get_queue_status", "evaluate")
GET_JOB_TARGET = 1.10

MODEL = "qwen2_vl"
TASKS = ["mme"]
MODEL_ARGS = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
LIMIT = 8
# What lmms-eval's EvalClient.evaluate sends for these arguments (its non-None defaults
# included); ours sends the same body.
RAW_PAYLOAD: dict[str, Any] = {
    "model": MODEL,
    "tasks": TASKS,
    "model_args": MODEL_ARGS,
    "limit": LIMIT,
    "log_samples": True,
    "predict_only": False,
    "num_gpus": 1,
}

AsyncCall = Callable[[], Awaitable[object]]


@dataclass
class Variant:
    label: str
    mode: Literal["sync", "async"]
    calls: dict[str, Callable[[], Any]]
    close: Callable[[], object]
    samples: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CALLS})


async def _timed(call: AsyncCall) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


def _measure(loop: asyncio.AbstractEventLoop, variant: Variant, call: str) -> float:
    fn = variant.calls[call]
    if variant.mode == "async":
        return loop.run_until_complete(_timed(fn))
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _variants(read_url: str, write_url: str, job_id: str) -> list[Variant]:
    # The floors send to absolute URLs, as lmms-eval's client does: cheaper for httpx than
    # merging a path into a base_url.
    job_url = f"{read_url}/jobs/{job_id}"
    queue_url = f"{read_url}/queue"
    evaluate_url = f"{write_url}/evaluate"
    evaluate_kwargs: dict[str, Any] = {
        "model": MODEL,
        "tasks": TASKS,
        "model_args": MODEL_ARGS,
        "limit": LIMIT,
    }

    raw_r, raw_w = httpx.Client(), httpx.Client()
    lmms_r, lmms_w = LmmsEvalClient(read_url), LmmsEvalClient(write_url)
    ours_r, ours_w = EvalClient(read_url), EvalClient(write_url)
    araw_r, araw_w = httpx.AsyncClient(), httpx.AsyncClient()
    alms_r, alms_w = LmmsAsyncEvalClient(read_url), LmmsAsyncEvalClient(write_url)
    aours_r, aours_w = AsyncEvalClient(read_url), AsyncEvalClient(write_url)

    async def araw_get_job() -> Any:
        return (await araw_r.get(job_url)).json()

    async def araw_queue() -> Any:
        return (await araw_r.get(queue_url)).json()

    async def araw_evaluate() -> Any:
        return (await araw_w.post(evaluate_url, json=RAW_PAYLOAD)).json()

    def close(*clients: Any) -> None:
        for client in clients:
            client.close()

    async def aclose(*clients: Any) -> None:
        for client in clients:
            await (client.aclose() if isinstance(client, httpx.AsyncClient) else client.close())

    return [
        Variant(
            "raw httpx.Client",
            "sync",
            {
                "get_job": lambda: raw_r.get(job_url).json(),
                "get_queue_status": lambda: raw_r.get(queue_url).json(),
                "evaluate": lambda: raw_w.post(evaluate_url, json=RAW_PAYLOAD).json(),
            },
            lambda: close(raw_r, raw_w),
        ),
        Variant(
            "lmms-eval EvalClient",
            "sync",
            {
                "get_job": lambda: lmms_r.get_job(job_id),
                "get_queue_status": lmms_r.get_queue_status,
                "evaluate": lambda: lmms_w.evaluate(**evaluate_kwargs),
            },
            lambda: close(lmms_r, lmms_w),
        ),
        Variant(
            "EvalClient (ours)",
            "sync",
            {
                "get_job": lambda: ours_r.get_job(job_id),
                "get_queue_status": ours_r.get_queue_status,
                "evaluate": lambda: ours_w.evaluate(**evaluate_kwargs),
            },
            lambda: close(ours_r, ours_w),
        ),
        Variant(
            "raw httpx.AsyncClient",
            "async",
            {"get_job": araw_get_job, "get_queue_status": araw_queue, "evaluate": araw_evaluate},
            lambda: aclose(araw_r, araw_w),
        ),
        Variant(
            "lmms-eval AsyncEvalClient",
            "async",
            {
                "get_job": lambda: alms_r.get_job(job_id),
                "get_queue_status": alms_r.get_queue_status,
                "evaluate": lambda: alms_w.evaluate(**evaluate_kwargs),
            },
            lambda: aclose(alms_r, alms_w),
        ),
        Variant(
            "AsyncEvalClient (ours)",
            "async",
            {
                "get_job": lambda: aours_r.get_job(job_id),
                "get_queue_status": aours_r.get_queue_status,
                "evaluate": lambda: aours_w.evaluate(**evaluate_kwargs),
            },
            lambda: aclose(aours_r, aours_w),
        ),
    ]


def _completed_job(url: str) -> str:
    with EvalClient(url) as client:
        job = client.evaluate(
            model=MODEL, tasks=TASKS, model_args={**MODEL_ARGS, "sim_duration": 0}, limit=LIMIT
        )
        client.wait_for_job(job.job_id, poll_interval=0.02, timeout=30, verbose=False)
        return job.job_id


def run_latency(workdir: Path, cpus: CpuPlan, iterations: int, warmup: int) -> Section:
    read = ServerProcess("latency-read", workdir, job_duration=0.0, cpu=cpus.server)
    write = ServerProcess("latency-write", workdir, job_duration=3600.0, cpu=cpus.server)
    with read, write:
        job_id = _completed_job(read.url)
        variants = _variants(read.url, write.url, job_id)
        loop = asyncio.new_event_loop()
        try:
            for i in range(warmup + iterations):
                if i == warmup:
                    gc.collect()
                for call in CALLS:
                    shift = i % len(variants)
                    for variant in variants[shift:] + variants[:shift]:
                        elapsed = _measure(loop, variant, call)
                        if i >= warmup:
                            variant.samples[call].append(elapsed)
        finally:
            for variant in variants:
                closing = variant.close()
                if asyncio.iscoroutine(closing):
                    loop.run_until_complete(closing)
            loop.close()
    return _section(variants, iterations, warmup)


def _section(variants: list[Variant], iterations: int, warmup: int) -> Section:
    section = Section()
    floors = {v.mode: v for v in variants if v.label.startswith("raw ")}
    for call in CALLS:
        for variant in variants:
            samples = variant.samples[call]
            floor = floors[variant.mode].samples[call]
            mid, floor_mid = median(samples), median(floor)
            is_floor = variant is floors[variant.mode]
            ratio = "floor" if is_floor else fmt_ratio(mid, floor_mid)
            target: Target | None = None
            if call == "get_job" and variant.label == "EvalClient (ours)":
                ratio, target = ratio_target(
                    "get_job latency", mid / floor_mid, GET_JOB_TARGET, "raw"
                )
            if not is_floor:
                ratio += f" ({(mid - floor_mid) * 1e6:+,.0f} us)"
            section.rows.append(
                Row(
                    "latency",
                    f"{call}, median / p90 (us)",
                    variant.label,
                    f"{fmt_us(mid)} / {fmt_us(p90(samples))}",
                    ratio,
                    target,
                )
            )
    sync_floor = median(floors["sync"].samples["get_job"])
    async_floor = median(floors["async"].samples["get_job"])
    tenth = max(1, iterations // 10)
    first = median(floors["sync"].samples["evaluate"][:tenth])
    last = median(floors["sync"].samples["evaluate"][-tenth:])
    section.notes += [
        f"latency: {iterations} interleaved calls per variant and call, after {warmup} warm-up "
        "rounds; sync rows are compared with raw httpx.Client, async rows with raw "
        "httpx.AsyncClient (absolute URLs, .json(), no validation); the async floor is "
        f"{async_floor / sync_floor:.2f}x the sync one on get_job.",
        "latency: evaluate goes to a server whose worker is parked on a first job, so the "
        "jobs queue without running (a submission's server cost does not depend on the "
        f"queue's length); raw evaluate median, first / last tenth of the run: "
        f"{fmt_us(first)} / {fmt_us(last)} us.",
    ]
    return section
