"""One checkpoint, or a server outage, does not stop a watcher (an adversarial try found
each ending the watch: a name that cannot be a key, a symlink loop in a checkpoint, the
server down when a checkpoint became ready). The others are submitted; the one that
waited is submitted once it can be."""

from __future__ import annotations

import errno
import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lmms_eval_client import APIStatusError, AuthenticationError, EvalClient, EvalRun, StableSize
from lmms_eval_client._watch.readiness import Looks, MarkerFile
from lmms_eval_client._watch.watcher import CheckpointWatcher
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..faults import FaultProxy, Rule, Script, on, respond
from .conftest import SUBMIT, server_job_count, write_checkpoint

MakeRun = Callable[..., EvalRun]


@contextmanager
def run_through_proxy(
    server: LocalServer, ledger: Path, rule: Rule | None = None
) -> Iterator[tuple[FaultProxy, EvalRun]]:
    """An EvalRun whose client reaches ``server`` through a FaultProxy (``rule``), no retries."""
    with (
        FaultProxy(server.url, rule) as proxy,
        EvalClient(proxy.url, max_retries=0) as client,
        EvalRun(client, ledger, poll_interval=0.02) as run,
    ):
        yield proxy, run


def test_a_checkpoint_whose_name_cannot_be_a_key_does_not_stop_the_others(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out"
    write_checkpoint(out, 3).rename(out / "checkpoint-3\t")  # a key refuses control characters
    # an adversarial try: a line break in a name forged a log line of its own
    write_checkpoint(out, 4).rename(out / "checkpoint-4\nWARNING: forged")
    write_checkpoint(out, 5)
    watcher = CheckpointWatcher(make_run(local_server.url), out, submit=SUBMIT)
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        assert [job.key for job in watcher.scan()] == ["checkpoint-5"]  # before: raised
        assert watcher.scan() == []
    assert caplog.text.count("is not watched: its name holds a control or undecodable") == 2
    assert "\nWARNING: forged" not in caplog.text  # said once each, escaped


class LoopIn:
    """MarkerFile, but one checkpoint holds a symlink loop (its files cannot be read)."""

    def __init__(self, name: str) -> None:
        self.name, self.marker = name, MarkerFile()

    def is_ready(self, path: Path, looks: Looks, now: float) -> bool:
        if path.name == self.name:
            raise OSError(errno.ELOOP, "Too many levels of symbolic links", str(path))
        return self.marker.is_ready(path, looks, now)


def test_a_checkpoint_that_cannot_be_read_waits_and_the_others_go_on(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    for step in (3, 5):
        write_checkpoint(out, step)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, ready=LoopIn("checkpoint-3"))
    assert [job.key for job in watcher.scan()] == ["checkpoint-5"]  # before: OSError


def test_a_server_down_when_a_checkpoint_is_ready_is_ridden_out(
    local_server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out"
    write_checkpoint(out, 5)
    with run_through_proxy(local_server, tmp_path / "run.sqlite") as (proxy, run):
        watcher = CheckpointWatcher(run, out, submit=SUBMIT)
        proxy.down()
        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            assert watcher.scan() == []  # before: APIConnectionError (the CLI exited 5)
        assert "could not submit checkpoint-5" in caplog.text
        proxy.up()
        assert [job.key for job in watcher.scan()] == ["checkpoint-5"]
        assert len(run.jobs()) == 1  # the unsent intent, sent: one job


def test_a_server_down_for_many_scans_is_said_once_and_once_when_it_is_back(
    local_server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: "could not submit" at each scan (every poll_interval: 360 warnings an hour).
    out = tmp_path / "out"
    write_checkpoint(out, 5)
    with run_through_proxy(local_server, tmp_path / "run.sqlite") as (proxy, run):
        watcher = CheckpointWatcher(run, out, submit=SUBMIT)
        proxy.down()
        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            for _ in range(4):
                assert watcher.scan() == []
            write_checkpoint(out, 10)
            assert watcher.scan() == []
            assert caplog.text.count("could not submit") == 1
            assert "could not submit checkpoint-5" in caplog.text
            assert "submissions go through again" not in caplog.text
            proxy.up()
            assert [job.key for job in watcher.scan()] == ["checkpoint-5", "checkpoint-10"]
            assert caplog.text.count("submissions go through again") == 1
            proxy.down()  # a second outage is said again
            write_checkpoint(out, 15)
            assert watcher.scan() == []
        assert caplog.text.count("could not submit") == 2
        assert "could not submit checkpoint-15" in caplog.text


def test_what_a_watcher_or_the_callback_tries_again_later() -> None:
    # The review of 67d83d1: a lost answer the server could not be asked about yet
    # (SubmissionUnresolvedError, not final) stopped the watcher, yet the next submit
    # under the key reconciles it without sending it twice.
    from lmms_eval_client import APIConnectionError, InvalidArgumentError
    from lmms_eval_client._runs.errors import SubmissionUnresolvedError
    from lmms_eval_client._watch.submission import may_pass_later

    assert may_pass_later(SubmissionUnresolvedError("?", final=False))
    assert not may_pass_later(SubmissionUnresolvedError("?", final=True))
    assert may_pass_later(APIConnectionError("refused"))
    assert not may_pass_later(InvalidArgumentError("bad"))


def test_watchers_of_one_ledger_take_only_their_own_jobs(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    # An adversarial try: a watcher of key_prefix "" counted the jobs of one of prefix
    # "a/" as its own (its max_pending held back by them) and collect() took and
    # acknowledged their outcomes: the other watcher never saw them.
    run = make_run(local_server.url)
    first, second = tmp_path / "a", tmp_path / "b"
    write_checkpoint(first, 5)
    write_checkpoint(second, 7)
    a = CheckpointWatcher(run, first, submit=SUBMIT, key_prefix="a/")
    b = CheckpointWatcher(run, second, submit=SUBMIT, max_pending=1)
    assert [job.key for job in a.scan()] == ["a/checkpoint-5"]
    assert b.pending() == []  # before: [a/checkpoint-5]
    assert [job.key for job in b.scan()] == ["checkpoint-7"]  # before: held by a's job
    assert run.wait(timeout=60).pending == []  # both finished; nothing taken yet
    assert [o.job.key for o in b.collect()] == ["checkpoint-7"]  # before: a's too
    assert [o.job.key for o in a.collect()] == ["a/checkpoint-5"]  # before: [] (taken by b)


def test_a_job_belongs_to_the_prefix_that_made_its_key_only() -> None:
    # The rule of the watcher and the trainer callback (which has no pattern to help).
    from lmms_eval_client import TrackedJob
    from lmms_eval_client._watch.submission import checkpoint_of

    def job(key: str) -> TrackedJob:
        return TrackedJob.model_construct(key=key, labels={"checkpoint": "checkpoint-5"})

    assert checkpoint_of(job("a/checkpoint-5"), "a/") == "checkpoint-5"
    assert checkpoint_of(job("a/checkpoint-5"), "") is None  # another's prefix
    assert checkpoint_of(job("abcheckpoint-5"), "a") is None  # "ab" is not "a"
    assert checkpoint_of(TrackedJob.model_construct(key=None, labels={}), "") is None


def test_with_every_a_checkpoint_that_cannot_be_read_is_passed_over(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    # An adversarial try: with every=2, an unreadable checkpoint-2 (the 2nd) held back every
    # later one for good. It is passed over: the next complete one stands in its place.
    out = tmp_path / "out"
    for step in range(1, 6):
        write_checkpoint(out, step)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, every=2, ready=LoopIn("checkpoint-2"))
    assert [job.key for job in watcher.scan()] == ["checkpoint-3", "checkpoint-5"]


def test_with_every_a_kth_checkpoint_left_incomplete_behind_later_ones_is_said(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out"
    for step in (1, 2, 3, 4):
        write_checkpoint(out, step, marker=step != 2)  # checkpoint-2's save never finished
    watcher = CheckpointWatcher(make_run(local_server.url), out, submit=SUBMIT, every=2)
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        assert watcher.scan() == [] and watcher.scan() == []  # it waits for the 2nd, by order
    assert caplog.text.count("checkpoint-2 is not complete while later checkpoints are") == 1


def test_a_checkpoint_the_server_refuses_does_not_stop_the_others(
    local_server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An adversarial try: a 422 for checkpoint-1 ended the watch (the CLI exited 1), and each
    # restart stopped at it again: checkpoints 2 and 3 were never submitted.
    out = tmp_path / "out"
    for step in (1, 2, 3):
        write_checkpoint(out, step)
    refuse_first = Script(respond(422, b'{"detail": "refused"}'), match=on("POST", "/evaluate"))
    with run_through_proxy(local_server, tmp_path / "run.sqlite", refuse_first) as (_, run):
        watcher = CheckpointWatcher(run, out, submit=SUBMIT)
        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            assert [job.key for job in watcher.scan()] == ["checkpoint-2", "checkpoint-3"]
            assert watcher.scan() == []  # not sent again by this watcher
        assert caplog.text.count("checkpoint-1 is not submitted") == 1


def test_a_server_refusing_every_request_for_its_credentials_stops_the_watch(
    local_server: LocalServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    refuse = Script(then=respond(401), match=on("POST", "/"))
    with (
        run_through_proxy(local_server, tmp_path / "run.sqlite", refuse) as (_, run),
        pytest.raises(AuthenticationError),
    ):
        CheckpointWatcher(run, out, submit=SUBMIT).scan()


def test_a_checkpoint_another_watcher_submitted_meanwhile_is_not_reported_as_submitted(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An adversarial try: three watchers of one folder and ledger sent 20 jobs for 20
    # checkpoints, but printed 56 "submitted" lines: each reported the job another one
    # had submitted under the key between its look at the ledger and its own submit.
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    write_checkpoint(out, 1)
    first = CheckpointWatcher(make_run(local_server.url, ledger), out, submit=SUBMIT)
    late = make_run(local_server.url, ledger)
    second = CheckpointWatcher(late, out, submit=SUBMIT)
    monkeypatch.setattr(late, "jobs", lambda: [])  # its look at the ledger came first
    assert [job.key for job in first.scan()] == ["checkpoint-1"]
    assert second.scan() == []  # before: [checkpoint-1], the first's job
    assert server_job_count(local_server.url) == 1


def test_a_link_to_a_checkpoint_is_not_evaluated_again_under_its_name(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    # An adversarial try: checkpoint-best -> checkpoint-100 was submitted too (step None):
    # the same weights evaluated twice. A link to a folder outside stays a checkpoint.
    out = tmp_path / "out"
    write_checkpoint(out, 100)
    (out / "checkpoint-best").symlink_to(out / "checkpoint-100")
    (out / "checkpoint-200").symlink_to(write_checkpoint(tmp_path / "elsewhere", 200))
    # The adversarial try of the watcher: two links to one folder elsewhere, both evaluated.
    (out / "checkpoint-last").symlink_to(tmp_path / "elsewhere" / "checkpoint-200")
    watcher = CheckpointWatcher(make_run(local_server.url), out, submit=SUBMIT)
    assert [job.key for job in watcher.scan()] == ["checkpoint-100", "checkpoint-200"]


def test_another_watchers_job_counts_for_max_pending(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The review of f04e641: a job another watcher submitted meanwhile was not counted as
    # in flight, so max_pending=1 let a second one go.
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    for step in (1, 2):
        write_checkpoint(out, step)
    held = LocalServerConfig(job_duration=60, temp_dir_root=tmp_path)
    with LocalServer(held) as slow:
        first = CheckpointWatcher(make_run(slow.url, ledger), out, submit=SUBMIT, max_pending=1)
        late = make_run(slow.url, ledger)
        second = CheckpointWatcher(late, out, submit=SUBMIT, max_pending=1)
        monkeypatch.setattr(late, "jobs", lambda: [])  # its look at the ledger came first
        assert [job.key for job in first.scan()] == ["checkpoint-1"]
        assert second.scan() == []  # before: it submitted checkpoint-2
        assert server_job_count(slow.url) == 1


def test_with_every_and_stable_size_a_first_look_is_not_said_to_hold_others_back(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The review: StableSize says "not ready" at its first look of every checkpoint, and the
    # watcher advised removing a good checkpoint-2 at every start.
    out = tmp_path / "out"
    for step in (1, 2, 3, 4):
        write_checkpoint(out, step)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, every=2, ready=StableSize(seconds=0))
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        watcher.scan()
    assert "is not complete while later checkpoints are" not in caplog.text


@pytest.mark.parametrize("status", [422, 404])
def test_the_same_refusal_for_every_checkpoint_stops_the_watch(
    local_server: LocalServer, tmp_path: Path, status: int
) -> None:
    # The review: a refusal every checkpoint gets (a bad option: 422 each time; a wrong base
    # URL: 404) was logged once per checkpoint until the training ended.
    out = tmp_path / "out"
    for step in range(1, 6):
        write_checkpoint(out, step)
    refuse = Script(then=respond(status, b'{"detail": "no"}'), match=on("POST", "/evaluate"))
    with (
        run_through_proxy(local_server, tmp_path / "run.sqlite", refuse) as (proxy, run),
        pytest.raises(APIStatusError) as raised,
    ):
        CheckpointWatcher(run, out, submit=SUBMIT).scan()
    assert raised.value.status_code == status
    sent = [seen for seen in proxy.seen if seen.method == "POST"]
    assert len(sent) == (3 if status == 422 else 1)  # three in a row, or the first


def test_every_k_counts_the_checkpoints_a_trainer_already_deleted(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    # The adversarial try of the watcher: every=3 with a trainer that keeps its 2 newest
    # checkpoints (HF's save_total_limit=2) submitted nothing in 20 saves: the k-th was
    # counted over the folders present, never 3 past the last submitted.
    out = tmp_path / "out"
    watcher = CheckpointWatcher(make_run(local_server.url), out, submit=SUBMIT, every=3)
    submitted: list[str | None] = []
    for step in range(100, 1300, 100):
        write_checkpoint(out, step)
        kept = sorted(out.iterdir(), key=lambda folder: int(folder.name.split("-")[1]))
        for old in kept[:-2]:
            shutil.rmtree(old)
        submitted += [job.key for job in watcher.scan()]
    assert submitted == ["checkpoint-300", "checkpoint-600", "checkpoint-900", "checkpoint-1200"]


def test_a_polls_answer_that_cannot_be_read_is_ridden_out(
    local_server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The adversarial try of the watcher: one HTML page from a gateway (a 200) in answer to
    # a poll ended a long watch, where a 502 or a reset was ridden out.
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    page = respond(200, b"<html>Please sign in</html>", content_type="text/html")
    with run_through_proxy(local_server, tmp_path / "evals.sqlite") as (proxy, run):
        watcher = CheckpointWatcher(run, out, submit=SUBMIT, poll_interval=0.02)

        def submitted(job: object) -> None:
            proxy.rule = Script(page, match=on("GET", "/queue"))  # the next poll's, once

        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            left = watcher.finish(timeout=60, on_submitted=submitted)
        assert [job.state for job in run.jobs()] == ["completed"]
    assert left == [] and "a poll's answer could not be read" in caplog.text
