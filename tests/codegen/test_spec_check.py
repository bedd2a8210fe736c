"""compare_contracts on pairs of small OpenAPI documents: each difference, and what is not one.

Each case is a live document (the server's export) and ours (the checked-in contract),
built from one ``POST /things/{thing_id}`` operation with a ``Req`` body and a ``Resp``
answer, plus the exact lines spec-check must print for them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

Schema = dict[str, Any]
OP = "POST /things/{thing_id}"

REQ: Schema = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "count": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "kind": {"type": "string", "enum": ["a", "b"]},
    },
}
RESP: Schema = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {
        "id": {"type": "string"},
        "status": {"$ref": "#/components/schemas/Status"},
        "size": {"type": "integer"},
    },
}
STATUS: Schema = {"type": "string", "enum": ["queued", "done"]}
PATH_PARAM: Schema = {
    "name": "thing_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}


def document() -> Schema:
    """The base document both sides start from (identical: no difference)."""
    operation: Schema = {
        "parameters": [copy.deepcopy(PATH_PARAM)],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Req"}}},
        },
        "responses": {
            "200": {
                "description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Resp"}}},
            },
            "404": {
                "description": "no such thing",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/things/{thing_id}": {"post": operation}},
        "components": {
            "schemas": {
                "Req": copy.deepcopy(REQ),
                "Resp": copy.deepcopy(RESP),
                "Status": copy.deepcopy(STATUS),
            }
        },
    }


def schema(doc: Schema, name: str) -> Schema:
    found: Schema = doc["components"]["schemas"][name]
    return found


def operation(doc: Schema) -> Schema:
    found: Schema = doc["paths"]["/things/{thing_id}"]["post"]
    return found


@dataclass
class Case:
    """Edits applied to a copy of document() on each side, and the expected lines."""

    id: str
    expected: list[str]
    live: list[Any] = field(default_factory=list)  # callables doc -> None
    ours: list[Any] = field(default_factory=list)


def add_request_field(doc: Schema, spec: Schema | None = None) -> None:
    schema(doc, "Req")["properties"]["extra"] = spec or {"type": "string"}


def add_query_parameter(doc: Schema, required: bool = False) -> None:
    operation(doc)["parameters"].append(
        {"name": "verbose", "in": "query", "required": required, "schema": {"type": "boolean"}}
    )


def add_get(doc: Schema) -> None:
    doc["paths"]["/health"] = {"get": {"responses": {"200": {"description": "ok", "content": {}}}}}


CASES = [
    Case("identical", []),
    Case(
        "descriptions, titles, examples, defaults and x- extensions are ignored",
        [],
        ours=[
            lambda d: schema(d, "Req")["properties"]["name"].update(
                description="who", title="Name", examples=["x"], default="n"
            ),
            lambda d: schema(d, "Resp")["properties"]["id"].update({"x-naive-datetime": True}),
            lambda d: operation(d).update(operationId="make", summary="s", tags=["t"]),
        ],
    ),
    # -- what the client sends: both ways ------------------------------------------------
    Case(
        "request field missing from ours",
        [f"{OP}: request field Req.count missing from ours"],
        ours=[lambda d: schema(d, "Req")["properties"].pop("count")],
    ),
    Case(
        "request field ours sends that the live server does not read",
        [f"{OP}: request field Req.extra in ours is not accepted live"],
        ours=[add_request_field],
    ),
    Case(
        "an extra request field is fine where the live model takes any additional field",
        [],
        live=[lambda d: schema(d, "Req").update(additionalProperties=True)],
        ours=[add_request_field],
    ),
    Case(
        "an extra request field is typed by the live additionalProperties schema",
        [
            f"{OP}: request field Req.extra has type string in ours, live integer "
            "(integer missing in ours; string not accepted live)",
            # ours (no additionalProperties) would let any other extra field through
            f"{OP}: request field Req[*] is untyped in ours, live integer",
        ],
        live=[lambda d: schema(d, "Req").update(additionalProperties={"type": "integer"})],
        ours=[add_request_field],
    ),
    Case(
        "request field optional in ours, required live",
        [f"{OP}: request field Req.name is optional in ours, required live"],
        ours=[lambda d: schema(d, "Req").update(required=[])],
    ),
    Case(
        "request field required in ours, optional live",
        [f"{OP}: request field Req.count is required in ours, optional live"],
        ours=[lambda d: schema(d, "Req").update(required=["name", "count"])],
    ),
    Case(
        "request field nullable in ours only",
        [
            f"{OP}: request field Req.name has type string | null in ours, live string "
            "(null not accepted live)"
        ],
        ours=[
            lambda d: schema(d, "Req")["properties"].update(
                name={"anyOf": [{"type": "string"}, {"type": "null"}]}
            )
        ],
    ),
    Case(
        "request field not nullable in ours",
        [
            f"{OP}: request field Req.count has type integer in ours, live integer | null "
            "(not nullable in ours)"
        ],
        ours=[lambda d: schema(d, "Req")["properties"].update(count={"type": "integer"})],
    ),
    Case(
        "request enum value ours sends that the live server refuses",
        [f"{OP}: request enum Req.kind value 'c' in ours is not accepted live"],
        ours=[lambda d: schema(d, "Req")["properties"]["kind"].update(enum=["a", "b", "c"])],
    ),
    Case(
        "request enum value missing from ours",
        [f"{OP}: request enum Req.kind value 'b' missing from ours"],
        ours=[lambda d: schema(d, "Req")["properties"]["kind"].update(enum=["a"])],
    ),
    Case(
        "request enum not restricted in ours",
        [f"{OP}: request enum Req.kind is not restricted to its live values in ours"],
        ours=[lambda d: schema(d, "Req")["properties"]["kind"].pop("enum")],
    ),
    Case(
        "request body ours sends where the live operation takes none",
        [f"{OP}: request body in ours is not accepted live"],
        live=[lambda d: operation(d).pop("requestBody")],
    ),
    Case(
        "request body missing from ours",
        [f"{OP}: request body missing from ours"],
        ours=[lambda d: operation(d).pop("requestBody")],
    ),
    Case(
        "request body optional in ours",
        [f"{OP}: request body is optional in ours, required live"],
        ours=[lambda d: operation(d)["requestBody"].update(required=False)],
    ),
    Case(
        "query parameter missing from ours",
        [f"{OP}: query parameter verbose missing from ours"],
        live=[add_query_parameter],
    ),
    Case(
        "query parameter ours sends that the live server does not read",
        [f"{OP}: query parameter verbose in ours is not accepted live"],
        ours=[add_query_parameter],
    ),
    Case(
        "query parameter required in ours only",
        [f"{OP}: query parameter verbose is required in ours, optional live"],
        live=[add_query_parameter],
        ours=[lambda d: add_query_parameter(d, required=True)],
    ),
    Case(
        "path parameter typed differently",
        [
            f"{OP}: path parameter thing_id: schema thing_id has type integer in ours, "
            "live string (string missing in ours; integer not accepted live)"
        ],
        ours=[lambda d: operation(d)["parameters"][0].update(schema={"type": "integer"})],
    ),
    # -- operations ----------------------------------------------------------------------
    Case(
        "operation missing from ours",
        ["GET /health: operation missing from ours"],
        live=[add_get],
    ),
    Case(
        "operation in ours that the live server does not serve",
        ["GET /health: operation in ours is not served live"],
        ours=[add_get],
    ),
    # -- what the server sends: ours must accept all of it -------------------------------
    Case(
        "response field missing from ours",
        [f"{OP}: 200 response field Resp.size missing from ours"],
        ours=[lambda d: schema(d, "Resp")["properties"].pop("size")],
    ),
    Case(
        "a response field ours adds documents the server: allowed",
        [],
        ours=[
            lambda d: schema(d, "Resp")["properties"].update(note={"type": "string"}),
            lambda d: schema(d, "Resp").update(required=["id"]),
        ],
    ),
    Case(
        "response type ours cannot read",
        [
            f"{OP}: 200 response field Resp.size has type string in ours, live integer "
            "(integer missing in ours)"
        ],
        ours=[lambda d: schema(d, "Resp")["properties"].update(size={"type": "string"})],
    ),
    Case(
        "an integer the server sends fits our number",
        [],
        ours=[lambda d: schema(d, "Resp")["properties"].update(size={"type": "number"})],
    ),
    Case(
        "response enum value missing from ours",
        [f"{OP}: 200 response enum Status value 'done' missing from ours"],
        ours=[lambda d: schema(d, "Status").update(enum=["queued"])],
    ),
    Case(
        "response status missing from ours",
        [f"{OP}: 404 response missing from ours"],
        ours=[lambda d: operation(d)["responses"].pop("404")],
    ),
    Case(
        "a response status ours adds documents the server: allowed",
        [],
        ours=[
            lambda d: operation(d)["responses"].update(
                {"400": {"description": "bad", "content": {}}}
            )
        ],
    ),
    Case(
        "a live 422 of an operation without a body needs no counterpart",
        [],
        live=[
            lambda d: operation(d).pop("requestBody"),
            lambda d: operation(d)["responses"].update(
                {"422": {"description": "v", "content": {}}}
            ),
        ],
        ours=[lambda d: operation(d).pop("requestBody")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_differences(spec_check: ModuleType, case: Case) -> None:
    live, ours = document(), document()
    for edit in case.live:
        edit(live)
    for edit in case.ours:
        edit(ours)
    assert spec_check.compare_contracts(live, ours, "live", "ours") == case.expected


def test_the_labels_name_the_documents(spec_check: ModuleType) -> None:
    live, ours = document(), document()
    add_get(live)
    add_request_field(ours)
    assert spec_check.compare_contracts(live, ours, "the server", "openapi.yaml") == [
        f"{OP}: request field Req.extra in openapi.yaml is not accepted live",
        "GET /health: operation missing from openapi.yaml",
    ]


def test_our_contract_against_itself_has_no_difference(
    spec_check: ModuleType, contract: dict[str, Any]
) -> None:
    assert spec_check.compare_contracts(contract, copy.deepcopy(contract)) == []
