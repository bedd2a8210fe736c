"""What the templates carry from openapi.yaml into the generated models.

Every property of the contract is described; every field of every generated model carries
that description (``Field(description=...)``: IDE hover, ``model_json_schema()``), and its
class docstring lists no empty entry. String properties marked ``x-naive-datetime`` get a
``<name>_datetime`` accessor.
"""

from __future__ import annotations

import inspect
import re
from datetime import datetime
from typing import Any

import pytest

import lmms_eval_api.models as generated
from lmms_eval_api.types import ApiModel
from lmms_eval_client import HealthResponse, JobInfo


def words(text: str) -> str:
    return " ".join(text.split())


def models() -> list[type[ApiModel]]:
    return [
        value
        for value in vars(generated).values()
        if isinstance(value, type) and issubclass(value, ApiModel) and value is not ApiModel
    ]


def wire_name(model: type[ApiModel], name: str) -> str:
    return model.model_fields[name].alias or name


def test_every_property_of_the_contract_is_described(contract: dict[str, Any]) -> None:
    undescribed = [
        f"{schema_name}.{name}"
        for schema_name, schema in contract["components"]["schemas"].items()
        for name, prop in (schema.get("properties") or {}).items()
        if not str(prop.get("description") or "").strip()
    ]
    assert undescribed == []


def test_every_generated_field_carries_its_contract_description(
    contract: dict[str, Any],
) -> None:
    schemas = contract["components"]["schemas"]
    checked = 0
    for model in models():
        properties = schemas[model.__name__]["properties"]  # the model of a named schema
        assert {wire_name(model, name) for name in model.model_fields} == set(properties)
        for name, info in model.model_fields.items():
            expected = words(properties[wire_name(model, name)]["description"])
            assert info.description == expected, f"{model.__name__}.{name}"
            json_schema = model.model_json_schema(by_alias=True)["properties"]
            assert json_schema[wire_name(model, name)]["description"] == expected
            checked += 1
    assert checked >= 45  # about every field of the contract


def test_a_ref_property_has_its_own_description_not_its_types() -> None:
    assert JobInfo.model_fields["status"].description is not None
    assert JobInfo.model_fields["status"].description.startswith("Where the job is")
    assert JobInfo.model_fields["request"].description is not None
    assert JobInfo.model_fields["request"].description.startswith("The submission")


@pytest.mark.parametrize("model", models(), ids=lambda model: model.__name__)
def test_class_docstrings_list_every_field_with_its_description(model: type[ApiModel]) -> None:
    doc = inspect.getdoc(model) or ""
    _, _, attributes = doc.partition("Attributes:\n")
    entries = re.findall(r"^    (\w+):(.*)$", attributes, flags=re.M)
    assert [name for name, _ in entries] == list(model.model_fields)
    assert all(text.strip() for _, text in entries), doc


def test_naive_datetime_accessors_exist_exactly_for_marked_properties(
    contract: dict[str, Any],
) -> None:
    schemas = contract["components"]["schemas"]
    for model in models():
        marked = {
            name
            for name in model.model_fields
            if schemas[model.__name__]["properties"][wire_name(model, name)].get("x-naive-datetime")
        }
        accessors = {
            name.removesuffix("_datetime")
            for name, value in vars(model).items()
            if name.endswith("_datetime") and isinstance(value, property)
        }
        assert accessors == marked, model.__name__
    assert {"created_at", "started_at", "completed_at"} <= set(
        name.removesuffix("_datetime") for name in vars(JobInfo) if name.endswith("_datetime")
    )


def job(**fields: Any) -> JobInfo:
    body: dict[str, Any] = {
        "job_id": "j",
        "status": "completed",
        "created_at": "2026-12-01T09:59:58.250000",
        "request": {"model": "m", "tasks": ["t"]},
        **fields,
    }
    return JobInfo.model_validate(body)


def test_job_timestamps_as_naive_datetimes() -> None:
    info = job(started_at="2026-12-01T10:00:00", completed_at="2026-12-01T10:05:30.000001")
    assert info.created_at_datetime == datetime(2026, 12, 1, 9, 59, 58, 250000)
    assert info.started_at_datetime == datetime(2026, 12, 1, 10, 0, 0)
    assert info.completed_at_datetime == datetime(2026, 12, 1, 10, 5, 30, 1)
    assert info.created_at_datetime is not None
    assert info.created_at_datetime.tzinfo is None  # as the server wrote it: no zone assumed
    assert info.created_at == "2026-12-01T09:59:58.250000"  # the raw string is unchanged


def test_absent_or_unreadable_timestamps_are_none() -> None:
    queued = job(status="queued")
    assert (queued.started_at_datetime, queued.completed_at_datetime) == (None, None)
    odd = job(created_at="yesterday", started_at="", completed_at="2026-13-01T00:00:00")
    assert (odd.created_at_datetime, odd.started_at_datetime, odd.completed_at_datetime) == (
        None,
        None,
        None,
    )
    assert odd.created_at == "yesterday"


def test_an_offset_is_kept_if_a_server_ever_sends_one() -> None:
    info = job(created_at="2026-12-01T10:00:00+01:00")
    assert info.created_at_datetime is not None
    assert info.created_at_datetime.utcoffset() is not None


def test_health_timestamp_as_datetime() -> None:
    health = HealthResponse.model_validate(
        {"status": "healthy", "timestamp": "2026-12-01T10:00:00.500000", "queue_size": 0}
    )
    assert health.timestamp_datetime == datetime(2026, 12, 1, 10, 0, 0, 500000)


def test_accessors_are_not_fields_nor_keys() -> None:
    info = job()
    assert "created_at_datetime" not in info.model_dump()
    assert "created_at_datetime" not in info.keys()  # noqa: SIM118 (keys() is under test)
    assert "created_at_datetime" not in JobInfo.model_fields
