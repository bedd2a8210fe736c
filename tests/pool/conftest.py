"""Fixtures of the pool tests: local servers on loopback (each its own jobs, durations,
tasks and gate), and pools of either kind over them, called as coroutines.

Jobs are held with a JobGate, not by timing: a server's jobs stay ``running`` until the test
releases its gate, so the loads the pool sees are known exactly.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import AsyncEvalPool, EvalPool
from lmms_eval_client.testing import JobGate, LocalServer, LocalServerConfig

from ..faults import start_local_server

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
POLL = 0.02


@dataclass
class Box:
    """A local server of the test: its config (to restart it), gate and the server."""

    config: LocalServerConfig
    gate: JobGate | None
    server: LocalServer
    tasks: Sequence[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def restart(self) -> None:
        """Stop it and start a fresh one on the same port: it remembers no job."""
        port = self.server.port
        self.server.stop()
        self.server = start_local_server(self.config, port=port)


@pytest.fixture
def start_box(tmp_path: Path) -> Iterator[Callable[..., Box]]:
    """``start_box(job_duration=0.1, tasks=["mme"], held=True)``: a started local server."""
    boxes: list[Box] = []

    def start(*, job_duration: float = 0.05, tasks: Sequence[str] = (), held: bool = False) -> Box:
        gate = JobGate() if held else None
        config = LocalServerConfig(
            job_duration=job_duration,
            temp_dir_root=tmp_path,
            job_gate=gate,
            **({"tasks": list(tasks)} if tasks else {}),
        )
        boxes.append(Box(config, gate, start_local_server(config), list(tasks)))
        return boxes[-1]

    yield start
    for box in boxes:
        if box.gate is not None:
            box.gate.release()
        box.server.stop()


class PoolCaller:
    """Calls a pool's methods as coroutines, whichever kind it is; ``pool`` is the pool."""

    def __init__(self, pool: EvalPool | AsyncEvalPool) -> None:
        self.pool = pool
        self.is_async = isinstance(pool, AsyncEvalPool)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.pool, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return call


@pytest.fixture(params=["EvalPool", "AsyncEvalPool"])
async def make_pool(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., PoolCaller]]:
    """``make_pool([urls], **options)``: a pool of this test's kind, closed at teardown."""
    made: list[PoolCaller] = []

    def make(servers: Sequence[str], **options: Any) -> PoolCaller:
        cls = EvalPool if request.param == "EvalPool" else AsyncEvalPool
        made.append(PoolCaller(cls(list(servers), **options)))
        return made[-1]

    yield make
    for caller in made:
        await caller.close()
