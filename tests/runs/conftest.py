"""Fixtures of the run tests: a local server, clients of both kinds, runs over them, and
the ledger they write: every test that takes ``ledger_target`` (or ``make_runner``'s
default ledger) runs twice, over a SQLite file and over a PostgreSQL schema (the same
assertions), except in the modules about the SQLite file itself (``SQLITE_ONLY``) and the
tests marked ``sqlite_ledger``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import AsyncEvalClient, AsyncEvalRun, EvalClient, EvalRun
from lmms_eval_client.testing import LocalServerConfig

from ._support import LedgerTarget, Runner

# Modules about the SQLite file itself (its bytes, pragmas, damage, migrations, statements).
SQLITE_ONLY = frozenset(
    {
        "test_ledger",
        "test_ledger_damage",
        "test_ledger_migration",
        "test_ledger_read_only",
        "test_network_filesystem",
        "test_poll_scale",
        "test_off_loop",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ledger_target" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in SQLITE_ONLY or metafunc.definition.get_closest_marker("sqlite_ledger"):
        return
    metafunc.parametrize("ledger_store", ["sqlite", "postgres"])


@pytest.fixture
def ledger_store() -> str:
    """Which store the test's ledger is in (parametrised by ``pytest_generate_tests``)."""
    return "sqlite"


@pytest.fixture
def ledger_target(
    ledger_store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> LedgerTarget:
    """The test's ledger: ``tmp_path/run.sqlite``, or a fresh schema of the worker's
    PostgreSQL server."""
    if ledger_store == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return tmp_path / "run.sqlite"


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    """Jobs of 0.05 s unless a request says otherwise; output under the test's tmp_path."""
    return LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)


MakeRunner = Callable[..., Runner]


@pytest.fixture
async def make_runner(kind: str, ledger_target: LedgerTarget) -> AsyncIterator[MakeRunner]:
    """``make_runner(base_url, ledger=..., **run_options)``: a run of the current kind over a
    fresh client; the client's and the run's sleeps are capped at 10 ms."""
    made: list[tuple[Any, Any]] = []

    def make(
        base_url: str,
        ledger: LedgerTarget | None = None,
        *,
        client_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> Runner:
        path = ledger if ledger is not None else ledger_target
        options.setdefault("poll_interval", 0.02)
        client: EvalClient | AsyncEvalClient
        run: EvalRun | AsyncEvalRun
        if kind == "sync":
            client = EvalClient(base_url, **(client_options or {}))
            made.append((client, None))  # closed at teardown, even if the run is refused
            run = EvalRun(client, path, **options)
        else:
            client = AsyncEvalClient(base_url, **(client_options or {}))
            made.append((client, None))
            run = AsyncEvalRun(client, path, **options)
        runner = Runner(run)
        client._sleep = runner.run._sleep  # type: ignore[assignment]
        made[-1] = (client, run)
        return runner

    yield make
    for client, run in made:
        for closing in (run and run.close(), client.close()):
            if closing is not None:
                await closing
