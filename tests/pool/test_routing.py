"""The pool's routing decision, with made-up servers and loads (no I/O, no clock)."""

from __future__ import annotations

import pytest

from lmms_eval_api.models import QueueStatusResponse
from lmms_eval_client import InvalidArgumentError
from lmms_eval_client._pool.routing import (
    DOWN,
    UP,
    Listing,
    RoutingTable,
    ServerState,
    choose,
    missing_tasks,
    task_names,
)

A, B, C = "http://a:8000", "http://b:8000", "http://c:8000"
EVERYTHING = frozenset({"mme", "mmmu_val", "mmmu_val_pro", "ai2d"})
MODELS = frozenset({"qwen2_vl", "llava"})


def server(
    url: str,
    load: int = 0,
    *,
    health: str = UP,
    tasks: frozenset[str] | None = EVERYTHING,
    models: frozenset[str] | None = MODELS,
    cap: int | None = None,
) -> ServerState:
    return ServerState(
        url,
        cap=cap,
        health=health,
        error="ConnectError: refused" if health == DOWN else None,
        tasks=Listing(tasks, fetched_at=0.0),
        models=Listing(models, fetched_at=0.0),
        snapshot_load=load,
        snapshot_sent_at=0.0,
    )


def chosen(states: list[ServerState], model: str = "qwen2_vl", tasks: tuple[str, ...] = ("mme",)):
    return choose(states, model, list(tasks), now=10.0)


def queue(queued: int, running: bool) -> QueueStatusResponse:
    return QueueStatusResponse(
        queue_size=queued,
        running_job="r" if running else None,
        queued_jobs=[f"q{i}" for i in range(queued)],
        completed_jobs=0,
        failed_jobs=0,
    )


# -- eligibility --------------------------------------------------------------------------


def test_the_least_loaded_server_wins() -> None:
    assert chosen([server(A, 3), server(B, 1), server(C, 2)]).index == 1


def test_servers_down_or_not_reached_are_not_chosen_and_say_why() -> None:
    choice = chosen([server(A, health=DOWN), server(B, 5), server(C, health="unknown")])
    assert choice.index == 1
    assert "down (ConnectError: refused)" in choice.reasons[A]
    assert choice.reasons[C] == "not reached yet"


def test_only_servers_offering_every_task() -> None:
    states = [server(A, 0, tasks=frozenset({"mme"})), server(B, 4), server(C, 0)]
    choice = chosen(states, tasks=("mme", "ai2d"))
    assert choice.index == 2  # A is idle but lacks ai2d
    assert "does not offer task(s) ai2d" in choice.reasons[A]


def test_a_pattern_needs_one_match_and_commas_split_tasks() -> None:
    assert missing_tasks(EVERYTHING, ["mmmu_val*", "mme"]) == []
    assert missing_tasks(frozenset({"mme"}), ["mmmu_val*"]) == ["mmmu_val*"]
    assert task_names(["mme,ai2d", " mmmu_val "]) == ["mme", "ai2d", "mmmu_val"]
    assert task_names("mme") == ["mme"]
    with pytest.raises(InvalidArgumentError):
        task_names([1, 2])  # type: ignore[list-item]


def test_a_server_that_cannot_list_its_tasks_may_take_any_task() -> None:
    # the real server without its ML stack: /tasks answers an error
    states = [server(A, 2, tasks=frozenset({"mme"})), server(B, 0, tasks=None)]
    assert chosen(states, tasks=("some_plugin_task",)).index == 1


def test_at_equal_load_a_server_with_known_tasks_goes_first() -> None:
    assert chosen([server(A, 1, tasks=None), server(B, 1)]).index == 1
    assert chosen([server(A, 0, tasks=None), server(B, 1)]).index == 0  # load first


def test_a_model_counts_only_when_some_server_lists_it() -> None:
    states = [server(A, 0, models=frozenset({"llava"})), server(B, 3)]
    choice = chosen(states, model="qwen2_vl")
    assert choice.index == 1
    assert "does not offer model 'qwen2_vl'" in choice.reasons[A]
    # an alias no /models lists (lmms-eval accepts them): the servers judge, by load
    assert chosen(states, model="openai_compatible").index == 0


def test_a_server_at_its_cap_is_not_chosen() -> None:
    states = [server(A, 2, cap=2), server(B, 5)]
    choice = chosen(states)
    assert choice.index == 1
    assert "at its cap of 2" in choice.reasons[A]
    assert chosen([server(A, 2, cap=2)]).index is None


def test_servers_tried_for_this_submission_are_excluded() -> None:
    choice = choose([server(A, 0), server(B, 3)], "qwen2_vl", ["mme"], 0.0, frozenset({0}))
    assert choice.index == 1
    assert "could not be reached" in choice.reasons[A]


def test_no_server_gives_every_reason() -> None:
    choice = chosen([server(A, health=DOWN), server(B, tasks=frozenset())])
    assert choice.index is None
    assert set(choice.reasons) == {A, B}


# -- load: what the snapshot may not show yet ----------------------------------------------


def test_two_quick_choices_do_not_land_on_the_same_idle_server() -> None:
    # Both choices see the same snapshots (B busy, A idle): the second must count the first
    # submission, on its way to A, and go to B, the least recently chosen of the two.
    table = RoutingTable([A, B], [None] * 2, listing_ttl=60, recheck_interval=5)
    for i, busy in enumerate([False, True]):
        table.mark_up(i, 0.0)
        table.record_queue(i, queue(0, running=busy), sent_at=0.0)
    first = table.choose("qwen2_vl", ["mme"], 1.0, reserve=True)
    second = table.choose("qwen2_vl", ["mme"], 1.0, reserve=True)
    assert (first.index, second.index) == (0, 1)


def test_a_submission_counts_until_a_snapshot_asked_for_later_shows_it() -> None:
    table = RoutingTable([A], [None], listing_ttl=60, recheck_interval=5)
    table.mark_up(0, 0.0)
    table.record_queue(0, queue(0, running=False), sent_at=0.0)
    assert table.choose("m", [], 1.0, reserve=True).index == 0
    assert table.states[0].load == 1  # on its way
    table.settle(0, accepted=True, now=2.0)
    assert table.states[0].load == 1  # answered, not in the snapshot of t=0
    table.record_queue(0, queue(0, running=True), sent_at=1.5)  # asked before the answer
    assert table.states[0].load == 2  # may or may not be that running job: counted twice
    table.record_queue(0, queue(0, running=True), sent_at=3.0)  # asked after the answer
    assert table.states[0].load == 1
    table.record_queue(0, queue(5, running=True), sent_at=2.5)  # older than the last: ignored
    assert table.states[0].load == 1


def test_a_submission_refused_is_not_counted() -> None:
    table = RoutingTable([A], [None], listing_ttl=60, recheck_interval=5)
    table.mark_up(0, 0.0)
    table.choose("m", [], 1.0, reserve=True)
    table.settle(0, accepted=False, now=2.0)
    assert table.states[0].load == 0


def test_idle_servers_take_turns() -> None:
    table = RoutingTable([A, B], [None, None], listing_ttl=60, recheck_interval=5)
    for i in range(2):
        table.mark_up(i, 0.0)
    picks = [table.choose("m", [], 1.0, reserve=False).index for _ in range(4)]
    assert picks == [0, 1, 0, 1]


def test_a_server_down_is_tried_again_after_the_recheck_interval() -> None:
    table = RoutingTable([A, B], [None, None], listing_ttl=60, recheck_interval=5)
    table.mark_up(0, 0.0)
    table.mark_down(1, "ConnectError", 10.0)
    assert table.due_for_probe(12.0) == [0]
    assert table.due_for_probe(15.0) == [0, 1]


def test_listings_are_read_again_after_their_ttl() -> None:
    table = RoutingTable([A], [None], listing_ttl=60, recheck_interval=5)
    assert table.listings_due(0, 0.0)
    table.record_listings(0, tasks=Listing(EVERYTHING, 0.0))
    assert table.listings_due(0, 1.0)  # models missing
    table.record_listings(0, models=Listing(MODELS, 0.0))
    assert not table.listings_due(0, 59.0)
    assert table.listings_due(0, 60.0)
