"""A job id is one percent-encoded path segment under /jobs/, whatever it contains."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from lmms_eval_client import EvalClient, InvalidArgumentError

from ..support import BASE, Caller, job_json

ODD_IDS = [
    ("../health", b"/jobs/..%2Fhealth"),
    ("a/b", b"/jobs/a%2Fb"),
    ("a?x=1", b"/jobs/a%3Fx%3D1"),
    ("a#b", b"/jobs/a%23b"),
    ("%2e%2e", b"/jobs/%252e%252e"),
    ("..%2fhealth", b"/jobs/..%252fhealth"),
    ("a/../../health", b"/jobs/a%2F..%2F..%2Fhealth"),
    ("./x", b"/jobs/.%2Fx"),
    ("...", b"/jobs/..."),
    (" ", b"/jobs/%20"),
    ("é", b"/jobs/%C3%A9"),
    ("a\\b", b"/jobs/a%5Cb"),
]


def asked_job(request: httpx.Request) -> str:
    """The job id a request's path names, decoded as the server decodes it."""
    return unquote(request.url.raw_path.decode("ascii").rpartition("/jobs/")[2])


def job_answer(status: str) -> Callable[[httpx.Request], httpx.Response]:
    """A server's answer: the job the path names (a mismatch is an error of its own)."""
    return lambda request: httpx.Response(200, json=job_json(status, job_id=asked_job(request)))


def serve_any_job(mock: respx.MockRouter) -> respx.Route:
    """Answer every request, so a request that escaped /jobs/ is still recorded."""

    def respond(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(200, json={"message": "cancelled"})
        return job_answer("completed")(request)

    return mock.route().mock(side_effect=respond)


@pytest.mark.parametrize("method", ["get_job", "cancel_job", "wait_for_job"])
@pytest.mark.parametrize(("job_id", "raw_path"), ODD_IDS, ids=[i for i, _ in ODD_IDS])
async def test_job_id_stays_one_segment(
    caller: Caller, mock: respx.MockRouter, method: str, job_id: str, raw_path: bytes
) -> None:
    route = serve_any_job(mock)
    kwargs = {"verbose": False} if method == "wait_for_job" else {}
    await getattr(caller, method)(job_id, **kwargs)
    assert route.call_count == 1
    url = route.calls.last.request.url
    assert url.raw_path == raw_path
    assert url.query == b""
    assert url.fragment == ""
    assert url.host == "lmms.test"


@pytest.mark.parametrize("method", ["get_job", "cancel_job", "wait_for_job"])
@pytest.mark.parametrize("job_id", ["", ".", "..", None, 5, b"abc", ["a"]], ids=repr)
async def test_invalid_job_ids_send_nothing(
    caller: Caller, mock: respx.MockRouter, method: str, job_id: Any
) -> None:
    serve_any_job(mock)
    with pytest.raises(InvalidArgumentError, match="job_id"):
        await getattr(caller, method)(job_id)
    assert mock.calls.call_count == 0


async def test_job_id_of_a_base_url_with_a_path_prefix(make_caller: Any) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().mock(side_effect=job_answer("running"))
        caller = make_caller("http://proxy.test/lmms/")
        await caller.get_job("../../health")
    assert route.calls.last.request.url.raw_path == b"/lmms/jobs/..%2F..%2Fhealth"


ids = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20).filter(
    lambda s: s not in (".", "..")
)


@pytest.fixture(scope="module")
def shared_client() -> Iterator[EvalClient]:
    """One client for every hypothesis example (building an httpx client is not free)."""
    with EvalClient(BASE) as client:
        yield client


@settings(max_examples=150, deadline=None)
@given(job_id=ids)
def test_any_job_id_round_trips_as_one_segment(shared_client: EvalClient, job_id: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.route().mock(side_effect=job_answer("running"))
        shared_client.get_job(job_id)
    url = route.calls.last.request.url
    prefix, _, segment = url.raw_path.partition(b"/jobs/")
    assert prefix == b""
    assert b"/" not in segment
    assert url.query == b""
    assert unquote(segment.decode("ascii")) == job_id
