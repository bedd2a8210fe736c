"""Two processes resolving ``MLflowSink(experiment=E, run_name="r")`` at once (two trainers
resuming, two ``runs export --to mlflow``) write to one MLflow run, against a real
`mlflow server`. The race is made deterministic by running the other "process" (a second
sink) inside the first one's call to ``create_run``, or by holding both at a barrier.

An adversarial try: both looked for "r", found none, and both created it: two runs named
"r", recorded in the ledger under two sink names (8 of 10 tries split)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from lmms_eval_client import MLflowSink

from ._mlflow import MlflowServer
from ._rows import job

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.usefixtures("mlflow_env")

BARRIER_TIMEOUT = 120.0  # a loaded machine: only a hang reaches it
# On the server, as other versions read them: a tag on each run a sink makes, a param on
# each it settles (MLflow never changes a param: the first process to set it decides).
MADE_BY, RACE = "lmms_eval_client.sink", "lmms_eval_client.run_name_race"


def reader(url: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=url)


def sinks(url: str) -> tuple[str, MLflowSink, MLflowSink]:
    experiment = f"run-race-{uuid.uuid4().hex[:8]}"
    reader(url).create_experiment(experiment)  # made: only the run's creation races
    made = [MLflowSink(tracking_uri=url, experiment=experiment, run_name="r") for _ in range(2)]
    return experiment, made[0], made[1]


def runs_of(client: MlflowClient, experiment: str) -> dict[str, str]:
    """Every run of the experiment, deleted ones too: run id -> lifecycle stage."""
    from mlflow.entities import ViewType

    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    found = client.search_runs([experiment_id], run_view_type=ViewType.ALL)
    runs = {run.info.run_id: run.info.lifecycle_stage for run in found}
    print(f"runs of {experiment}: {runs}")
    return runs


def points(client: MlflowClient, run_id: str) -> list[tuple[int, float]]:
    found = [(m.step, m.value) for m in client.get_metric_history(run_id, "eval/mme/acc")]
    print(f"run {run_id}: {found}")
    return found


def test_a_run_made_after_this_ones_look_is_left_for_the_one_already_written(
    mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second process looked for "r" and found none; before its create_run reached the
    # server, the first one created "r", saw it alone and wrote a point to it. The second's
    # clock is a minute behind (or it read the time and stalled): its run starts earlier.
    experiment, first, second = sinks(mlflow_server.url)
    create = second._client.create_run
    made: list[str] = []

    def late_create(experiment_id: str, **options: Any) -> Any:
        first.write(job(1, 10, mme__acc=0.1), 10)  # the other process, meanwhile
        options["start_time"] = int(time.time() * 1000) - 60_000
        run = create(experiment_id, **options)
        made.append(run.info.run_id)
        return run

    monkeypatch.setattr(second._client, "create_run", late_create)
    second.write(job(2, 20, mme__acc=0.2), 20)
    print(f"first wrote to {first.run_id}, second to {second.run_id}")
    assert second.run_id == first.run_id
    assert second.name == first.name  # one destination in the ledger
    client = reader(mlflow_server.url)
    assert sorted(points(client, first.run_id)) == [(10, 0.1), (20, 0.2)]
    assert made and made[0] != first.run_id  # it did make a run: deleted, nothing in it
    assert runs_of(client, experiment) == {first.run_id: "active", made[0]: "deleted"}
    assert points(client, made[0]) == []


def test_two_processes_that_both_made_the_run_write_to_one(
    mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both looked and found none, then both created "r" before either looked again.
    experiment, first, second = sinks(mlflow_server.url)
    both = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    made: list[str] = []

    def held(sink: MLflowSink) -> None:
        create = sink._client.create_run
        calls: list[int] = []

        def create_with_the_other(experiment_id: str, **options: Any) -> Any:
            calls.append(1)
            if len(calls) > 1:  # (a second try of its own: not part of the race)
                return create(experiment_id, **options)
            both.wait()  # both have looked, neither has created
            run = create(experiment_id, **options)
            made.append(run.info.run_id)
            both.wait()  # both have created, neither has looked again
            return run

        monkeypatch.setattr(sink._client, "create_run", create_with_the_other)

    held(first)
    held(second)
    failures: list[BaseException] = []

    def deliver(sink: MLflowSink, seq: int) -> None:
        try:
            sink.write(job(seq, seq * 10, mme__acc=seq / 10), seq * 10)
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)
            both.abort()

    threads = [
        threading.Thread(target=deliver, args=(sink, seq))
        for seq, sink in ((1, first), (2, second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    print(f"made {made}; first wrote to {first.run_id}, second to {second.run_id}")
    assert first.run_id == second.run_id
    client = reader(mlflow_server.url)
    (loser,) = set(made) - {first.run_id}
    assert runs_of(client, experiment) == {first.run_id: "active", loser: "deleted"}
    assert sorted(points(client, first.run_id)) == [(10, 0.1), (20, 0.2)]
    assert points(client, loser) == []


def test_a_run_seen_by_one_process_only_is_lost_when_another_settles_an_earlier_one(
    mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run "r" just made by a third process (not settled yet). The second process sees it
    # alone and is about to settle on it; the first, whose look came before it was made,
    # creates its own, which starts earlier (a clock behind), and sees both: it settles on
    # its own only once the other is lost, so the second cannot settle on that one.
    experiment, first, second = sinks(mlflow_server.url)
    client = reader(mlflow_server.url)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    third = client.create_run(experiment_id, run_name="r", tags={MADE_BY: "MLflowSink"})
    search, create = first._client.search_runs, first._client.create_run
    looks: list[int] = []

    def early_look(*args: Any, **options: Any) -> Any:
        from mlflow.store.entities.paged_list import PagedList

        looks.append(1)  # its first look: before the third process made its run
        return PagedList([], None) if len(looks) == 1 else search(*args, **options)

    def behind(experiment_id: str, **options: Any) -> Any:
        return create(experiment_id, **options, start_time=int(time.time() * 1000) - 60_000)

    monkeypatch.setattr(first._client, "search_runs", early_look)
    monkeypatch.setattr(first._client, "create_run", behind)
    claim = second._client.log_param
    claims: list[int] = []

    def late_claim(*args: Any) -> Any:
        claims.append(1)
        if len(claims) == 1:  # the first process, meanwhile
            first.write(job(1, 10, mme__acc=0.1), 10)
        return claim(*args)

    monkeypatch.setattr(second._client, "log_param", late_claim)
    second.write(job(2, 20, mme__acc=0.2), 20)
    print(f"first wrote to {first.run_id}, second to {second.run_id}")
    assert second.run_id == first.run_id != third.info.run_id
    assert sorted(points(client, first.run_id)) == [(10, 0.1), (20, 0.2)]
    assert client.get_run(third.info.run_id).data.params == {RACE: "lost"}  # its maker's
    assert points(client, third.info.run_id) == []


def test_a_run_of_that_name_made_elsewhere_is_reused_as_it_is(
    mlflow_server: MlflowServer,
) -> None:
    # A training run started with mlflow.start_run(run_name="r"), or one a sink made before
    # runs were settled: used, nothing added to it, no run made; of two (a pair the race
    # made before), the earliest, as before.
    experiment, first, second = sinks(mlflow_server.url)
    client = reader(mlflow_server.url)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    now = int(time.time() * 1000)
    later = client.create_run(experiment_id, run_name="r", start_time=now).info.run_id
    training = client.create_run(experiment_id, run_name="r", start_time=now - 1).info.run_id
    assert first.run_id == second.run_id == training
    assert client.get_run(training).data.params == {}
    assert runs_of(client, experiment) == {training: "active", later: "active"}


def test_a_run_whose_maker_stopped_before_settling_it_is_continued(
    mlflow_server: MlflowServer,
) -> None:
    # A process killed between its create_run and settling the run: the next one uses that
    # run, settled first (so that no other process, racing it, can drop it).
    experiment, first, _ = sinks(mlflow_server.url)
    client = reader(mlflow_server.url)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    left = client.create_run(experiment_id, run_name="r", tags={MADE_BY: "MLflowSink"})
    assert first.run_id == left.info.run_id
    assert client.get_run(first.run_id).data.params == {RACE: "won"}
    assert runs_of(client, experiment) == {first.run_id: "active"}


def test_a_lost_run_its_maker_left_is_passed_over(mlflow_server: MlflowServer) -> None:
    # A process killed between losing its run and deleting it: the run stays, empty, and
    # is never written to; the next process makes the run.
    experiment, first, second = sinks(mlflow_server.url)
    client = reader(mlflow_server.url)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    left = client.create_run(experiment_id, run_name="r", tags={MADE_BY: "MLflowSink"})
    client.log_param(left.info.run_id, RACE, "lost")
    assert first.run_id == second.run_id != left.info.run_id
    assert client.get_run(first.run_id).data.params == {RACE: "won"}
    assert runs_of(client, experiment) == {first.run_id: "active", left.info.run_id: "active"}
