"""The models are honest read-only Mappings (issue 9, item 11): ported dict code works.

Before: ``for k in info: info[k]`` raised (iteration gave (name, value) pairs), ``keys()``
was a list (no set operations), ``isinstance(info, Mapping)`` was False, and there was no
documented way to ``json.dumps`` a model.
"""

from __future__ import annotations

import json
from collections.abc import KeysView, Mapping

import pytest

from lmms_eval_client import JobInfo, QueueStatusResponse, json_default

from ..support import job_json

DONE = job_json(
    "completed",
    result={"Qwen__x": {"results": "/r/a_results.json", "samples": ["/r/s.jsonl"]}},
    newer_field={"kept": True},
)


@pytest.fixture
def info() -> JobInfo:
    return JobInfo.model_validate(DONE)


def test_a_model_is_a_mapping_of_its_wire_keys(info: JobInfo) -> None:
    assert isinstance(info, Mapping)
    assert set(info) == set(DONE)  # iteration yields the keys (wire names)
    assert {key: info[key] for key in info}["job_id"] == DONE["job_id"]
    assert len(info) == len(DONE) and "newer_field" in info


def test_keys_are_a_view_with_set_operations(info: JobInfo) -> None:
    assert isinstance(info.keys(), KeysView)
    assert info.keys() & {"error", "nope"} == {"error"}
    assert info.keys() - set(DONE) == set()
    assert next(iter(info.values())) == DONE["job_id"]
    assert dict(info.items())["status"] == "completed"


def test_dict_of_a_model_is_unchanged_and_equality_stays_a_models(info: JobInfo) -> None:
    assert dict(info)["position_in_queue"] is None
    assert info == JobInfo.model_validate(DONE)
    assert info != DONE  # a model is not a dict: compare model_dump() or to_dict()


def test_json_default_writes_models_and_nested_models(info: JobInfo) -> None:
    text = json.dumps({"job": info, "result": info["result"]}, default=json_default)
    back = json.loads(text)
    assert back["job"]["result"]["Qwen__x"]["samples"] == ["/r/s.jsonl"]
    assert back["result"] == DONE["result"]
    assert back["job"]["newer_field"] == {"kept": True}


def test_json_default_still_refuses_what_json_cannot_write() -> None:
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        json.dumps({"x": {1}}, default=json_default)


def test_json_without_a_default_fails_loudly(info: JobInfo) -> None:
    with pytest.raises(TypeError):
        json.dumps(info)
    queue = QueueStatusResponse.model_validate(
        {"queue_size": 0, "queued_jobs": [], "completed_jobs": 0, "failed_jobs": 0}
    )
    assert json.loads(json.dumps(queue.to_dict()))["queue_size"] == 0
