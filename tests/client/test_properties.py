"""Property-based tests (hypothesis), both clients, through respx:

- every JobInfo / QueueStatusResponse body valid under openapi.yaml parses, value for value
  (the strategies are built from the schemas in openapi.yaml itself, extra properties
  included: JSON Schema allows them and the models keep them);
- any junk answer (bytes, JSON of the wrong shape, mutated or truncated valid bodies, any
  status, odd headers) raises only the documented error types, with a short message.

One client of each kind serves every example (building one costs ~25 ms); the async one
runs on a loop of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmms_eval_client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AsyncEvalClient,
    AuthenticationError,
    BadRequestError,
    EvalClient,
    InternalServerError,
    JobInfo,
    JobNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    QueueStatusResponse,
    RateLimitError,
    UnprocessableEntityError,
)

from .._errors import documented_type

BASE = "http://lmms.test"
JOB_ID = "job-0"
SPEC = yaml.safe_load((Path(__file__).parents[2] / "openapi.yaml").read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]

# What a malformed answer may raise: the documented types, nothing else.
DOCUMENTED = {
    APIResponseValidationError,
    APIStatusError,
    BadRequestError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    JobNotFoundError,
    UnprocessableEntityError,
    RateLimitError,
    InternalServerError,
    APIConnectionError,  # httpx.DecodingError: a body that does not match its Content-Encoding
}

# ----------------------------------------------------------------------------------------
# Strategies from openapi.yaml
# ----------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid under a schema of openapi.yaml (the subset of JSON Schema it uses)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(SCHEMAS[name]))
    if "anyOf" in schema:
        return st.one_of([from_schema(option) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return st.text(max_size=30)
    if kind == "integer":
        return st.integers()
    if kind == "number":
        return st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=4)
    if kind == "object":
        return _object(schema)
    return json_values  # no type: anything


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra_schema = schema.get("additionalProperties", True)
    if not properties:  # a map: {name: value}
        values = json_values if extra_schema is True else from_schema(extra_schema)
        return st.dictionaries(st.text(max_size=12), values, max_size=3)
    declared = st.fixed_dictionaries(
        {name: from_schema(sub) for name, sub in properties.items() if name in required},
        optional={
            name: from_schema(sub) for name, sub in properties.items() if name not in required
        },
    )
    # JSON Schema allows properties the schema does not name; the models keep them
    extra = st.dictionaries(
        st.text(max_size=12).filter(lambda key: key not in properties), json_values, max_size=3
    )
    return st.builds(lambda extra, declared: {**extra, **declared}, extra, declared)


job_bodies = from_schema({"$ref": "#/components/schemas/JobInfo"})
queue_bodies = from_schema({"$ref": "#/components/schemas/QueueStatusResponse"})

# ----------------------------------------------------------------------------------------
# The clients
# ----------------------------------------------------------------------------------------


class Shared:
    """One client of a kind, and the respx route that answers it; ``call(name, *args)`` runs
    a method to completion."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "sync":
            self.client: EvalClient | AsyncEvalClient = EvalClient(BASE, max_retries=0)
        else:
            self.loop = asyncio.new_event_loop()
            self.client = AsyncEvalClient(BASE, max_retries=0)
        self.mock = respx.mock(base_url=BASE, assert_all_called=False)
        self.mock.start()
        self.route = self.mock.route()

    def call(self, name: str, *args: Any) -> Any:
        result = getattr(self.client, name)(*args)
        return result if self.kind == "sync" else self.loop.run_until_complete(result)

    def served(self, response: httpx.Response, name: str, *args: Any) -> Any:
        """``name(*args)`` while every request gets ``response``; exactly one request sent."""
        self.route.reset()
        self.route.return_value = response
        try:
            return self.call(name, *args)
        finally:
            assert self.route.call_count == 1

    def close(self) -> None:
        self.mock.stop()
        if isinstance(self.client, EvalClient):
            self.client.close()
        else:
            self.loop.run_until_complete(self.client.close())
            self.loop.close()


@pytest.fixture(scope="module", params=["sync", "async"])
def shared(request: pytest.FixtureRequest) -> Iterator[Shared]:
    with pytest.MonkeyPatch.context() as env:
        for name in ("LMMS_EVAL_API_KEY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env.delenv(name, raising=False)
            env.delenv(name.lower(), raising=False)
        client = Shared(str(request.param))
    yield client
    client.close()


# derandomize: the same examples on every run (the suite must be deterministic); a search
# with more examples and fresh randomness found nothing more.
PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# ----------------------------------------------------------------------------------------
# Valid bodies parse
# ----------------------------------------------------------------------------------------


def sent_back(model: Any) -> Any:
    """A parsed model as the JSON the server sent (declared fields set, and the extras)."""
    return json.loads(json.dumps(model.to_dict()))


@PROPERTY
@given(body=job_bodies)
@pytest.mark.slow
def test_any_valid_job_info_parses(shared: Shared, body: dict[str, Any]) -> None:
    # About the job asked for: an answer about another job is an error (test_hardening).
    body = {**body, "job_id": JOB_ID}
    job = shared.served(httpx.Response(200, json=body), "get_job", JOB_ID)
    assert isinstance(job, JobInfo)
    assert job.job_id == body["job_id"]
    assert job.status == body["status"]
    assert sent_back(job) == json.loads(json.dumps(body))
    for key, value in body.items():
        assert job[key] == value or key in ("status", "request", "result")


@PROPERTY
@given(body=queue_bodies)
@pytest.mark.slow
def test_any_valid_queue_status_parses(shared: Shared, body: dict[str, Any]) -> None:
    queue = shared.served(httpx.Response(200, json=body), "get_queue_status")
    assert isinstance(queue, QueueStatusResponse)
    assert queue.queue_size == body["queue_size"]
    assert queue.queued_jobs == body["queued_jobs"]
    assert sent_back(queue) == json.loads(json.dumps(body))


@settings(PROPERTY, max_examples=40)
@given(body=job_bodies, status=st.text(min_size=1, max_size=20))
def test_a_status_a_newer_server_adds_still_parses(
    shared: Shared, body: dict[str, Any], status: str
) -> None:
    body = {**body, "status": status, "job_id": JOB_ID}
    job = shared.served(httpx.Response(200, json=body), "get_job", JOB_ID)
    assert job.status == status


# ----------------------------------------------------------------------------------------
# Junk raises only documented errors
# ----------------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, bodies: st.SearchStrategy[dict[str, Any]]) -> bytes:
    """A valid body with one required field dropped, or one field of the wrong type."""
    body = dict(draw(bodies))
    key = draw(st.sampled_from(sorted(body)))
    if draw(st.booleans()):
        del body[key]
    else:
        body[key] = draw(json_values.filter(lambda value: type(value) is not type(body[key])))
    return json.dumps(body).encode()


@st.composite
def truncated(draw: st.DrawFn, bodies: st.SearchStrategy[dict[str, Any]]) -> bytes:
    data = json.dumps(draw(bodies)).encode()
    return data[: draw(st.integers(0, max(len(data) - 1, 0)))]


def junk(bodies: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda value: json.dumps(value).encode()),
        mutated(bodies),
        truncated(bodies),
        st.sampled_from(
            [
                b"",
                b"null",
                b"[]",
                b"{}",
                b"NaN",
                b"<html><body>502</body></html>",
                b"\xef\xbb\xbf{}",
            ]
        ),
    )


statuses = st.sampled_from(
    [200, 200, 200, 201, 202, 204, 301, 307, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 599]
)
# Location headers: well-formed ones, and ones httpx cannot parse (it then loses the 3xx
# response, and the client must still raise a documented error).
LOCATIONS = [
    "http://elsewhere:8000/queue",
    "/queue",
    "//h/x",
    "?x=1",
    "mailto:admin@example.com",
    "a:b",
    "http://[::1",
    "http://h:port/x",
    "http://exa mple/",
]
locations = st.one_of(
    st.sampled_from(LOCATIONS),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(["application/json", "text/html", "text/plain", "x/y"]),
        "content-encoding": st.sampled_from(["gzip", "deflate", "identity"]),
        "retry-after": st.sampled_from(["0", "5", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"]),
        "location": locations,
    },
)


def check_junk(shared: Shared, status: int, body: bytes, head: dict[str, str], *call: Any) -> None:
    # a stream, so that the client (not this test) decodes it per its Content-Encoding
    response = httpx.Response(status, headers=head, stream=httpx.ByteStream(body))
    try:
        result = shared.served(response, *call)
    except Exception as exc:
        assert documented_type(exc) in DOCUMENTED, (
            f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        )
        assert len(str(exc)) < 2000
    else:
        assert 200 <= status < 300  # only a success can return
        assert isinstance(result, (JobInfo, QueueStatusResponse))


@PROPERTY
@given(status=statuses, body=junk(job_bodies), head=headers)
@pytest.mark.slow
def test_junk_job_answers_raise_only_documented_errors(
    shared: Shared, status: int, body: bytes, head: dict[str, str]
) -> None:
    check_junk(shared, status, body, head, "get_job", JOB_ID)


@PROPERTY
@given(status=statuses, body=junk(queue_bodies), head=headers)
def test_junk_queue_answers_raise_only_documented_errors(
    shared: Shared, status: int, body: bytes, head: dict[str, str]
) -> None:
    check_junk(shared, status, body, head, "get_queue_status")


@settings(PROPERTY, max_examples=60)
@given(
    status=st.sampled_from([301, 302, 303, 307, 308]),
    location=locations,
    body=junk(job_bodies),
)
def test_redirects_anywhere_raise_only_documented_errors(
    shared: Shared, status: int, location: str, body: bytes
) -> None:
    check_junk(shared, status, body, {"location": location}, "get_job", JOB_ID)
