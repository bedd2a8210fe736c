"""What making a client costs: a pool of servers, a client per thread, per test or per
checkpoint makes many.

Per client, made and closed in this process: ``httpx.Client()`` / ``httpx.AsyncClient()``
as httpx makes them by default (each loads the CA bundle into a new TLS context: the
floor), the same given one TLS context (for context, no target), and ours, ``EvalClient``
/ ``AsyncEvalClient``, which check their settings and build an httpx client that shares
one TLS context per process. Target: ours <= 1.0x httpx's default. Medians of ``rounds``
interleaved rounds of ``batch`` clients each.

    python benchmarks/bench_construct.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import time
from collections.abc import Callable, Sequence

import httpx
from bench_common import Row, Section, fmt_ms, median, ratio_target, render_text

from lmms_eval_client import AsyncEvalClient, EvalClient

CONSTRUCT_TARGET = 1.0
URL = "http://127.0.0.1:9"  # never contacted: making a client sends nothing


def _per_client(make_and_close: Callable[[], None], batch: int) -> float:
    start = time.perf_counter()
    for _ in range(batch):
        make_and_close()
    return (time.perf_counter() - start) / batch


def _async(
    loop: asyncio.AbstractEventLoop, make: Callable[[], httpx.AsyncClient | AsyncEvalClient]
) -> Callable[[], None]:
    def make_and_close() -> None:
        async def once() -> None:
            client = make()
            await (client.aclose() if isinstance(client, httpx.AsyncClient) else client.close())

        loop.run_until_complete(once())

    return make_and_close


def run_construct(rounds: int, batch: int = 10) -> Section:
    loop = asyncio.new_event_loop()
    try:
        took = _measure(loop, rounds, batch)
    finally:
        loop.close()
    return _section(took)


def _measure(loop: asyncio.AbstractEventLoop, rounds: int, batch: int) -> dict[str, float]:
    context = ssl.create_default_context()
    kinds: dict[str, Callable[[], None]] = {
        "httpx.Client()": lambda: httpx.Client().close(),
        "httpx.Client(verify=one context)": lambda: httpx.Client(verify=context).close(),
        "EvalClient(url) (ours)": lambda: EvalClient(URL).close(),
        "httpx.AsyncClient()": _async(loop, httpx.AsyncClient),
        "httpx.AsyncClient(verify=one context)": _async(
            loop, lambda: httpx.AsyncClient(verify=context)
        ),
        "AsyncEvalClient(url) (ours)": _async(loop, lambda: AsyncEvalClient(URL)),
    }
    for make_and_close in kinds.values():  # warm: first imports, the shared context
        make_and_close()
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    names = list(kinds)
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_per_client(kinds[name], batch))
    return {name: median(values) for name, values in samples.items()}


def _section(took: dict[str, float]) -> Section:
    section = Section()
    for flavour, floor, given, ours in (
        ("sync", "httpx.Client()", "httpx.Client(verify=one context)", "EvalClient(url) (ours)"),
        (
            "async",
            "httpx.AsyncClient()",
            "httpx.AsyncClient(verify=one context)",
            "AsyncEvalClient(url) (ours)",
        ),
    ):
        measure = f"make + close one {flavour} client, median (ms)"
        ratio = took[ours] / took[floor]
        section.rows += [
            Row("construct", measure, floor, fmt_ms(took[floor])),
            Row(
                "construct",
                measure,
                given,
                fmt_ms(took[given]),
                f"{took[given] / took[floor]:.2f}x",
            ),
            Row(
                "construct",
                measure,
                ours,
                fmt_ms(took[ours]),
                *ratio_target(f"construct {flavour}", ratio, CONSTRUCT_TARGET, "httpx's default"),
            ),
        ]
    section.notes.append(
        "construct: interleaved rounds of clients made and closed in one "
        "process; httpx's default builds a TLS context per client (the CA bundle loaded each "
        "time), ours shares one per process (again when the CA file or $SSLKEYLOGFILE changes)."
    )
    return section


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds (default 15)")
    args = parser.parse_args(argv)
    section = run_construct(args.rounds)
    print(render_text(section.rows))
    print("\n".join(section.notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
