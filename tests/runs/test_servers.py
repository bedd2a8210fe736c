"""Servers have identity: spellings of one server's URL are one server, and a ledger
reopened with a client that does not reach its pending jobs' server says so (a warning at
open, an error instead of an empty ``as_completed``) until ``rehome`` moves them."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from lmms_eval_client import (
    EvalClient,
    EvalRun,
    InvalidArgumentError,
    JobCompleted,
    JobLost,
    RehomeConflictError,
    UncoveredServersError,
    UncoveredServersWarning,
)
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.servers import client_for, server_identity
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..faults import proxy, start_local_server
from ._support import QWEN, LedgerTarget
from .conftest import MakeRunner

SLOW = {**QWEN, "sim_duration": 0.3}  # still pending when the ledger is reopened


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://localhost:8000/", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000", "http://127.0.0.2:8000/"),
        ("http://[::1]:8000", "http://localhost:8000"),
        ("HTTP://LocalHost:8000", "http://localhost:8000"),
        ("http://gpu-box", "http://GPU-BOX:80/"),
        ("https://gpu-box/", "https://gpu-box:443"),
        ("http://gpu-box:8000/lmms//eval/", "http://gpu-box:8000/lmms/eval"),
        (" http://gpu-box:8000 ", "http://gpu-box:8000"),
    ],
)
def test_spellings_of_one_server_are_one_identity(a: str, b: str) -> None:
    assert server_identity(a) == server_identity(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8001"),
        ("http://gpu-box:8000", "https://gpu-box:8000"),
        ("http://gpu-box:80", "https://gpu-box:443"),
        ("http://gpu-box:8000", "http://gpu-box-2:8000"),
        ("http://gpu-box:8000/a", "http://gpu-box:8000/b"),
        ("http://10.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_other_servers_are_other_identities(a: str, b: str) -> None:
    assert server_identity(a) != server_identity(b)


def test_the_identity_is_canonical_and_a_non_url_is_its_own() -> None:
    assert server_identity("HTTP://[::1]/") == "http://localhost:80"
    assert server_identity("https://Gpu-Box/x/") == "https://gpu-box:443/x"
    assert server_identity("not a url") == "not a url"
    clients = {"http://127.0.0.1:8000": "a", "http://gpu:1": "b"}
    assert client_for(clients, "http://localhost:8000/") == "a"
    assert client_for(clients, "http://localhost:8001") is None


@pytest.mark.slow
async def test_a_ledger_reopened_under_localhost_harvests_its_jobs_without_a_warning(
    make_runner: MakeRunner, local_server: LocalServer, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = ledger_target
    first = make_runner(local_server.url, ledger=path)  # http://127.0.0.1:<port>
    for n in range(3):
        await first.submit("qwen2_vl", ["mme"], model_args={**SLOW, "n": n}, labels={"n": n})
    await first.close()
    alias = local_server.url.replace("127.0.0.1", "localhost") + "/"
    again = make_runner(alias, ledger=path)  # filterwarnings=error: a warning would fail
    done = await again.completed(timeout=30)
    assert sorted(o.labels["n"] for o in done) == [0, 1, 2]
    assert all(isinstance(o, JobCompleted) for o in done)
    assert all(job.server == local_server.url for job in await again.jobs())  # as recorded


@pytest.mark.parametrize("jobs_are_there", [False, True])
async def test_a_server_on_another_port_is_named_then_rehomed_and_every_job_harvested(
    make_runner: MakeRunner,
    local_server: LocalServer,
    server_config: LocalServerConfig,
    tmp_path: Path,
    jobs_are_there: bool,
    ledger_target: LedgerTarget,
) -> None:
    path = ledger_target
    first = make_runner(local_server.url, ledger=path)
    jobs = [
        await first.submit("qwen2_vl", ["mme"], model_args={**SLOW, "n": n}, labels={"n": n})
        for n in range(2)
    ]
    await first.close()
    # The new port: the same server behind a proxy (its jobs are there), or another server
    # (a restart: they are not).
    other = None if jobs_are_there else start_local_server(server_config)
    with proxy(local_server.url) as p:
        new_url = p.url if other is None else other.url
        with pytest.warns(UncoveredServersWarning) as warned:
            runner = make_runner(new_url, ledger=path)
        (warning,) = [w.message for w in warned]
        assert isinstance(warning, UncoveredServersWarning)
        assert warning.servers == {local_server.url: [job.seq for job in jobs]}
        assert warning.reaches == [new_url]
        assert f"run.rehome({local_server.url!r}, {new_url!r})" in str(warning)
        with pytest.raises(UncoveredServersError) as error:  # not an empty loop
            await runner.completed(timeout=30)
        assert error.value.servers == warning.servers
        moved = await runner.rehome(local_server.url, new_url)
        assert [job.seq for job in moved] == [job.seq for job in jobs]
        assert all(job.server == new_url for job in moved)
        done = await runner.completed(timeout=30)
        kind = JobCompleted if jobs_are_there else JobLost
        assert sorted(o.labels["n"] for o in done) == [0, 1]
        assert all(isinstance(o, kind) for o in done)
        history = [o.event for o in await runner.history(jobs[0])]
        assert "rehomed" in history
        assert await runner.rehome(local_server.url, new_url) == []  # twice: harmless
    if other is not None:
        other.stop()


async def test_rehome_refuses_a_server_the_run_does_not_reach(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    runner = make_runner(local_server.url)
    with pytest.raises(InvalidArgumentError, match="not a server of this run"):
        await runner.rehome("http://127.0.0.1:9", "http://127.0.0.1:10")
    with pytest.raises(InvalidArgumentError, match="base URL"):
        await runner.rehome("gpu-box", local_server.url)
    assert await runner.rehome("http://old-box:8000", local_server.url) == []  # nothing there


async def test_rehome_refuses_to_give_a_server_two_jobs_of_one_id(
    make_runner: MakeRunner, local_server: LocalServer, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = ledger_target
    ledger = Ledger(path)
    body = build_evaluate_request(
        "qwen2_vl", ["mme"], QWEN, None, None, None, None, None, True, False, 1, None
    )
    for n, server in enumerate(("http://127.0.0.1:9", local_server.url)):
        job = ledger.record_intent(
            token=f"t{n}", labels={}, request=body, server=server, owner="gone:1:x",
            snapshot=QueueSnapshot((), 0, 0).to_json(),
        )  # fmt: skip
        ledger.record_answer(job.seq, "same-id", "completed", "answer", None)
    ledger.close()
    runner = make_runner(local_server.url, ledger=path)
    with pytest.raises(RehomeConflictError, match="same-id") as info:
        await runner.rehome("http://127.0.0.1:9", local_server.url)
    assert info.value.job_ids == ["same-id"] and info.value.seqs == [1]
    assert (await runner.job(1)).server == "http://127.0.0.1:9"  # unmoved


def test_the_warning_and_errors_survive_pickle_and_copy() -> None:
    servers = {"http://a:1": [1, 2]}
    for made in (
        UncoveredServersWarning.of("/x.sqlite", servers, ["http://b:2"]),
        UncoveredServersError.of("/x.sqlite", servers, ["http://b:2"]),
        RehomeConflictError("clash", path="/x", job_ids=["j"], seqs=[3]),
    ):
        for again in (pickle.loads(pickle.dumps(made)), copy.deepcopy(made)):
            assert type(again) is type(made) and str(again) == str(made)
            assert again.__dict__ == made.__dict__


async def test_a_rehome_mapping_at_open_moves_the_jobs_before_they_are_checked(
    make_runner: MakeRunner, local_server: LocalServer, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = ledger_target
    first = make_runner(local_server.url, ledger=path)
    await first.submit("qwen2_vl", ["mme"], model_args=SLOW, labels={"n": 0})
    await first.close()
    with proxy(local_server.url) as p:  # the same server on another port: no warning
        runner = make_runner(p.url, ledger=path, rehome={local_server.url: p.url + "/"})
        (done,) = await runner.completed(timeout=30)
        assert isinstance(done, JobCompleted) and done.job.server == p.url
    with (
        EvalClient(local_server.url) as client,
        pytest.raises(InvalidArgumentError, match="not a server of this run"),
    ):
        EvalRun(client, path, rehome={p.url: "http://127.0.0.1:9"})


def test_a_warning_made_an_error_leaves_no_ledger_open(
    local_server: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ledger_target: LedgerTarget,
) -> None:
    path = ledger_target
    ledger = Ledger(path)
    body = build_evaluate_request(
        "qwen2_vl", ["mme"], QWEN, None, None, None, None, None, True, False, 1, None
    )
    job = ledger.record_intent(
        token="t", labels={}, request=body, server="http://127.0.0.1:9", owner="gone:1:x",
        snapshot=QueueSnapshot((), 0, 0).to_json(),
    )  # fmt: skip
    ledger.record_answer(job.seq, "j", "queued", "answer", None)
    ledger.close()
    closed: list[str] = []
    close = Ledger.close
    monkeypatch.setattr(Ledger, "close", lambda self: (closed.append(self.path), close(self)))
    with EvalClient(local_server.url) as client:
        with pytest.raises(UncoveredServersWarning, match=r"seqs 1\)"):  # -W error is on
            EvalRun(client, path)
        assert len(closed) == 1  # (a PostgreSQL ledger's path: its URL without password)
