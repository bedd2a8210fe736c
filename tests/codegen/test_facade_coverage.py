"""The facade covers openapi.yaml: every operation is a method of both clients, and every
parameter and request-body field of an operation is a parameter of that method.

This is what fails after `make generate` when openapi.yaml gained an operation or a
request field (a newer server) and the facade was not extended. Only the public classes
are inspected, through ``inspect.signature``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from lmms_eval_client import AsyncEvalClient, EvalClient

# operationId in openapi.yaml -> the method of EvalClient and AsyncEvalClient that calls it.
OPERATION_METHODS: Mapping[str, str] = {
    "health": "health",
    "submit_evaluation": "evaluate",
    "get_job": "get_job",
    "cancel_job": "cancel_job",
    "get_queue_status": "get_queue_status",
    "list_tasks": "list_tasks",
    "list_models": "list_models",
    "merge_checkpoint": "merge_checkpoint",
}
CLIENTS = ((EvalClient, False), (AsyncEvalClient, True))  # (class, is it async)
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
EXPLICIT = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def resolve(contract: Mapping[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s."""
    while isinstance(node, dict) and "$ref" in node:
        for part in node["$ref"].removeprefix("#/").split("/"):
            contract = contract[part]
        node = contract
    return node


def operation_inputs(
    contract: Mapping[str, Any], item: Mapping[str, Any], operation: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(name, where) of every input of an operation: its parameters and body fields."""
    inputs: list[tuple[str, str]] = []
    for raw in [*item.get("parameters", []), *operation.get("parameters", [])]:
        param = resolve(contract, raw)
        inputs.append((param["name"], f"{param['in']} parameter"))
    body = resolve(contract, operation.get("requestBody", {}))
    for media in (body.get("content") or {}).values():
        raw_schema = media.get("schema", {})
        schema = resolve(contract, raw_schema)
        where = raw_schema.get("$ref", "#/body").rsplit("/", 1)[-1]
        inputs.extend((name, f"{where} field") for name in schema.get("properties", {}))
    return inputs


def coverage_problems(
    contract: Mapping[str, Any],
    clients: Iterable[tuple[type, bool]] = CLIENTS,
    table: Mapping[str, str] = OPERATION_METHODS,
) -> list[str]:
    """What the facade lacks of ``contract``, one line each (empty when it covers it all)."""
    problems: list[str] = []
    seen: set[str] = set()
    for path, item in contract["paths"].items():
        for http_method in HTTP_METHODS:
            operation = item.get(http_method)
            if operation is None:
                continue
            op_id = operation.get("operationId", f"{http_method} {path}")
            seen.add(op_id)
            name = table.get(op_id)
            if name is None:
                problems.append(
                    f"{http_method.upper()} {path} ({op_id}) has no facade method: add one to "
                    "both clients and to OPERATION_METHODS"
                )
                continue
            inputs = operation_inputs(contract, item, operation)
            for client, is_async in clients:
                problems.extend(method_problems(client, is_async, name, op_id, inputs))
    problems.extend(
        f"OPERATION_METHODS maps {op_id}, which openapi.yaml does not have"
        for op_id in table
        if op_id not in seen
    )
    return problems


def method_problems(
    client: type, is_async: bool, name: str, op_id: str, inputs: list[tuple[str, str]]
) -> list[str]:
    """What ``client.name`` lacks to call operation ``op_id`` with all of ``inputs``."""
    method = getattr(client, name, None)
    if not callable(method):
        return [f"{client.__name__}.{name} is missing (operation {op_id})"]
    if is_async != inspect.iscoroutinefunction(method):
        kind = "a coroutine function" if is_async else "a plain method"
        return [f"{client.__name__}.{name} is not {kind} (operation {op_id})"]
    parameters = inspect.signature(method).parameters
    return [
        f"{client.__name__}.{name} has no parameter {field} ({where} of {op_id})"
        for field, where in inputs
        if field not in parameters or parameters[field].kind not in EXPLICIT
    ]


# -- the check on the real contract --------------------------------------------------------


def test_the_facade_covers_every_operation_and_request_field(contract: dict[str, Any]) -> None:
    assert coverage_problems(contract) == []


# -- the check itself: each kind of gap is reported ----------------------------------------


def added_problems(original: dict[str, Any], changed: dict[str, Any]) -> list[str]:
    """The lines a change to the contract adds (so these tests name only their own gap)."""
    before = set(coverage_problems(original))
    return [line for line in coverage_problems(changed) if line not in before]


def test_a_new_request_field_is_reported_for_both_clients(contract: dict[str, Any]) -> None:
    original = copy.deepcopy(contract)
    schemas = contract["components"]["schemas"]
    schemas["EvaluateRequest"]["properties"]["top_k"] = {"type": "integer"}
    schemas["MergeRequest"]["properties"]["dry_run"] = {"type": "boolean"}
    assert added_problems(original, contract) == [
        "EvalClient.evaluate has no parameter top_k (EvaluateRequest field of submit_evaluation)",
        "AsyncEvalClient.evaluate has no parameter top_k "
        "(EvaluateRequest field of submit_evaluation)",
        "EvalClient.merge_checkpoint has no parameter dry_run "
        "(MergeRequest field of merge_checkpoint)",
        "AsyncEvalClient.merge_checkpoint has no parameter dry_run "
        "(MergeRequest field of merge_checkpoint)",
    ]


def test_a_new_operation_is_reported(contract: dict[str, Any]) -> None:
    original = copy.deepcopy(contract)
    contract["paths"]["/jobs"] = {"get": {"operationId": "list_jobs", "responses": {}}}
    assert added_problems(original, contract) == [
        "GET /jobs (list_jobs) has no facade method: add one to both clients and to "
        "OPERATION_METHODS"
    ]


def test_a_new_parameter_is_reported(contract: dict[str, Any]) -> None:
    original = copy.deepcopy(contract)
    contract["paths"]["/jobs/{job_id}"]["get"]["parameters"].append(
        {"name": "include_log", "in": "query", "schema": {"type": "boolean"}}
    )
    assert added_problems(original, contract) == [
        "EvalClient.get_job has no parameter include_log (query parameter of get_job)",
        "AsyncEvalClient.get_job has no parameter include_log (query parameter of get_job)",
    ]


def test_a_method_missing_or_of_the_wrong_kind_is_reported() -> None:
    class Sync:
        def health(self) -> None: ...

    class Async:
        async def health(self) -> None: ...

    contract = {"paths": {"/health": {"get": {"operationId": "health"}}}}
    table = {"health": "health"}
    assert coverage_problems(contract, [(Sync, False), (Async, True)], table) == []
    assert coverage_problems(contract, [(Async, False), (Sync, True)], table) == [
        "Async.health is not a plain method (operation health)",
        "Sync.health is not a coroutine function (operation health)",
    ]
    assert coverage_problems(contract, [(Sync, False)], {"health": "status"}) == [
        "Sync.status is missing (operation health)"
    ]


def test_a_catch_all_keyword_argument_does_not_count() -> None:
    class Sync:
        def evaluate(self, model: str, **options: Any) -> None: ...

    contract = {
        "paths": {
            "/evaluate": {
                "post": {
                    "operationId": "submit_evaluation",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"properties": {"model": {}, "tasks": {}}}
                            }
                        }
                    },
                }
            }
        }
    }
    assert coverage_problems(contract, [(Sync, False)], {"submit_evaluation": "evaluate"}) == [
        "Sync.evaluate has no parameter tasks (body field of submit_evaluation)"
    ]


def test_a_stale_table_entry_is_reported(contract: dict[str, Any]) -> None:
    original = copy.deepcopy(contract)
    del contract["paths"]["/merge"]
    assert added_problems(original, contract) == [
        "OPERATION_METHODS maps merge_checkpoint, which openapi.yaml does not have"
    ]
