"""A run refuses, before its ledger is touched, a client of the other kind (the second
adversarial try of pools and runs: ``EvalRun(AsyncEvalPool(...))`` opened, made its ledger,
then its first submission raised a raw ``TypeError``, a coroutine never awaited), and a seq
beyond 64 bits is no job (``ack``/``release`` raised the driver's ``OverflowError``)."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import (
    AsyncEvalClient,
    AsyncEvalPool,
    AsyncEvalRun,
    EvalClient,
    EvalPool,
    EvalRun,
    InvalidArgumentError,
)

URL = "http://127.0.0.1:9"  # never reached: refused first


@pytest.mark.parametrize(
    ("run_class", "make_client", "said"),
    [
        (
            EvalRun,
            lambda: AsyncEvalPool([URL]),
            "takes an EvalClient or an EvalPool; got AsyncEvalPool",
        ),
        (
            EvalRun,
            lambda: AsyncEvalClient(URL),
            "takes an EvalClient or an EvalPool; got AsyncEvalClient",
        ),
        (
            AsyncEvalRun,
            lambda: EvalPool([URL]),
            "an AsyncEvalClient or an AsyncEvalPool; got EvalPool",
        ),
        (
            AsyncEvalRun,
            lambda: EvalClient(URL),
            "an AsyncEvalClient or an AsyncEvalPool; got EvalClient",
        ),
        (EvalRun, lambda: URL, "takes an EvalClient or an EvalPool; got str"),
    ],
)
def test_a_client_of_the_other_kind_is_refused_before_the_ledger_is_made(
    tmp_path: Path, run_class: Any, make_client: Any, said: str
) -> None:
    ledger = tmp_path / "evals.sqlite"
    client = make_client()
    try:
        with pytest.raises(InvalidArgumentError, match=said):
            run_class(client, ledger)
    finally:
        closing = getattr(client, "close", lambda: None)()
        if inspect.isawaitable(closing):
            asyncio.run(closing)  # type: ignore[arg-type]
    assert not ledger.exists()


@pytest.mark.parametrize("seq", [2**63, -(2**63) - 1, 10**30])
def test_a_seq_beyond_64_bits_is_no_job(tmp_path: Path, seq: int) -> None:
    with EvalClient(URL) as client, EvalRun(client, tmp_path / "evals.sqlite") as run:
        for method in (run.ack, run.release):
            with pytest.raises(InvalidArgumentError, match=f"no job has seq {seq}"):
                method(seq)
