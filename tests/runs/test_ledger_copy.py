"""``copy_ledger`` (``runs migrate``, issue 26): a run's ledger copied into another store.

A real run (local server: a completed job under a key with a secret model_arg, a failed
job retried once, a sink write) is copied SQLite -> PostgreSQL and back; the copy answers
the same jobs, histories and table rows, keeps the fingerprint key, and a run resumed on it
submits after the copied seqs. A target holding jobs is refused with nothing written.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalClient, EvalRun, InvalidArgumentError, RetryOnFailure
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_copy import copy_ledger
from lmms_eval_client._runs.table import TABLE_PARAMS, TABLE_QUERY, table_rows
from lmms_eval_client._trackers.writes import LedgerSinkWrites
from lmms_eval_client.testing import LocalServer

from ..postgres import dump_schema

SECRET = "sk-live-copy-0123456789"
ARGS = {"pretrained": "org/ckpt-1", "api_key": SECRET}


def make_run(target: str | Path, url: str) -> None:
    """Seq 1 completed (key step-1, secret arg, a sink write), seq 2 failed, retried as 3."""
    with (
        EvalClient(url) as client,
        EvalRun(client, target, poll_interval=0.02, retry=RetryOnFailure(".", 2)) as run,
    ):
        run.submit("qwen2_vl", ["mme"], ARGS, labels={"step": 1}, key="step-1")
        failing = {"pretrained": "org/bad", "sim_outcome": "fail"}
        run.submit("qwen2_vl", ["mme"], failing, labels={"step": 2})
        run.wait(timeout=60)
    with closing(Ledger(target)) as ledger:
        LedgerSinkWrites(ledger).record("tensorboard:/tmp/tb", [1])


def snapshot(target: str | Path) -> dict[str, Any]:
    """What a reader of the ledger sees: jobs, histories, table rows, sink writes, key."""
    with closing(Ledger(target, read_only=True)) as ledger:
        jobs = ledger.jobs()
        return {
            "jobs": [job.model_dump() for job in jobs],
            "history": {job.seq: ledger.history(job.seq) for job in jobs},
            "table": [
                row.model_dump()
                for row in table_rows(ledger.rows(TABLE_QUERY, TABLE_PARAMS), ledger.path)
            ],
            "sinks": ledger.rows("SELECT sink, seq, at FROM sink_writes ORDER BY sink, seq"),
            "key": ledger.store.fingerprint_key(),
        }


@pytest.fixture
def sqlite_run(local_server: LocalServer, tmp_path: Path) -> Path:
    path = tmp_path / "run.sqlite"
    make_run(path, local_server.url)
    return path


def test_sqlite_to_postgres_copies_every_row_and_a_resumed_run_goes_on(
    sqlite_run: Path, postgres_url: str, local_server: LocalServer
) -> None:
    before = snapshot(sqlite_run)
    assert [j["seq"] for j in before["jobs"]] == [1, 2, 3] and before["jobs"][1]["retried_by"] == 3
    assert copy_ledger(sqlite_run, postgres_url) == 3
    after = snapshot(postgres_url)
    assert after == before
    assert SECRET not in dump_schema(postgres_url)  # fingerprints copied, never the secret
    with closing(Ledger(postgres_url)) as copied:  # the same key: the same fingerprints
        stored = before["jobs"][0]["request"]["model_args"]["api_key"]
        assert copied.fingerprints.of(SECRET) == stored != SECRET
    with EvalClient(local_server.url) as client, EvalRun(client, postgres_url) as run:
        assert run.job("step-1").seq == 1  # a copied key is found
        again = run.submit("qwen2_vl", ["mme"], ARGS, key="step-1")
        assert again.seq == 1  # ... and not sent again
        new = run.submit("qwen2_vl", ["mme"], {"pretrained": "org/ckpt-4"}, labels={"step": 4})
        assert new.seq == 4 and run.history(4)[0].event == "intent"
    with closing(Ledger(postgres_url, read_only=True)) as ids:
        latest = ids.rows("SELECT max(id) AS top, count(*) AS n FROM observations")[0]
    assert latest["top"] == latest["n"]  # the new rows' ids follow the copied ones


def test_postgres_to_sqlite_works_too(
    postgres_url: str, local_server: LocalServer, tmp_path: Path
) -> None:
    make_run(postgres_url, local_server.url)
    copy = tmp_path / "copy.sqlite"
    assert copy_ledger(postgres_url, str(copy)) == 3
    assert snapshot(copy) == snapshot(postgres_url)
    with EvalClient(local_server.url) as client, EvalRun(client, copy) as run:
        job = run.submit("qwen2_vl", ["mme"], {"pretrained": "org/x"})
    assert job.seq == 4


def test_a_target_holding_jobs_is_refused_and_nothing_is_written(
    sqlite_run: Path, postgres_url: str, local_server: LocalServer
) -> None:
    with EvalClient(local_server.url) as client, EvalRun(client, postgres_url) as run:
        run.submit("qwen2_vl", ["mme"], {"pretrained": "org/other"}, labels={"mine": 1})
    before = dump_schema(postgres_url)
    with pytest.raises(InvalidArgumentError, match="already holds 1 job") as info:
        copy_ledger(sqlite_run, postgres_url)
    assert "***" in str(info.value) and postgres_url.split("@")[0].split(":")[-1] not in str(
        info.value
    )  # named without its password
    assert dump_schema(postgres_url) == before
    with pytest.raises(InvalidArgumentError, match="already holds 3 job"):
        copy_ledger(postgres_url, sqlite_run)  # (the other way: the file is kept as well)


def test_an_empty_source_copies_no_job_but_its_key(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "empty.sqlite"
    Ledger(source).close()
    assert copy_ledger(source, postgres_url) == 0
    assert snapshot(postgres_url)["key"] == snapshot(source)["key"]
