"""Adversarial job ids on the wire, both clients: every request that reaches the socket is
``/jobs/{one percent-encoded segment}``, and that segment decodes back to the id.

tests/client/test_job_ids.py checks the URL httpx builds; here the assertion is on the request
line a server actually read off a loopback socket. One server and one client of each kind
serve the whole module (building a client costs ~25 ms; there are ~200 cases).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import unquote, unquote_to_bytes

import pytest
import pytest_asyncio

from lmms_eval_client import AsyncEvalClient, EvalClient, InvalidArgumentError, LmmsEvalError

from ..faults import FaultProxy, Respond, Seen, http_response, proxy
from ..support import Caller

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADVERSARIAL_IDS = [
    pytest.param("../health", id="dotdot-health"),
    pytest.param("../../queue", id="dotdot-twice"),
    pytest.param("a/b", id="slash"),
    pytest.param("a/../../health", id="slash-dotdot"),
    pytest.param("./x", id="dot-slash"),
    pytest.param("...", id="three-dots"),
    pytest.param("a?x=1", id="query"),
    pytest.param("a#b", id="fragment"),
    pytest.param("%2e%2e", id="encoded-dotdot"),
    pytest.param("..%2fhealth", id="encoded-slash"),
    pytest.param("%00", id="encoded-nul"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("a;b=c", id="semicolon"),
    pytest.param("user@evil", id="at"),
    pytest.param("http://evil.example/x", id="absolute-url"),
    pytest.param("//evil.example/x", id="scheme-relative"),
    pytest.param(" a b ", id="spaces"),
    pytest.param("a\r\nHost: evil.example\r\n\r\nGET /health", id="crlf-injection"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("\t", id="tab"),
    pytest.param("é", id="latin1"),
    pytest.param("日本語のジョブ", id="cjk"),
    pytest.param("🙂🚀", id="emoji"),
    pytest.param("\u202eevil", id="rtl-override"),
    pytest.param("\ufeff", id="bom"),
    pytest.param("x" * 10_000, id="10000-ascii"),
    pytest.param("é" * 10_000, id="10000-latin1"),
    pytest.param("/" * 10_000, id="10000-slashes"),
    pytest.param("🙂" * 5_000, id="5000-emoji"),
]
METHODS = [("get_job", "GET"), ("cancel_job", "DELETE"), ("wait_for_job", "GET")]
CALL_KWARGS = {"wait_for_job": {"verbose": False, "timeout": 0}}


def answer(seen: Seen) -> Respond:
    """Every GET gets a completed job, every DELETE a cancel: each call is one request.

    The job is the one the path names (decoded as the server would), as a server answers.
    """
    if seen.method == "DELETE":
        body: dict[str, object] = {"message": "cancelled"}
    else:
        segment = seen.path.rsplit(b"/", 1)[-1] if seen.path.startswith(b"/jobs/") else b""
        body = {
            "job_id": unquote(segment.decode("ascii", "replace")),
            "status": "completed",
            "created_at": "2026-01-01T00:00:00",
            "request": {"model": "m", "tasks": ["t"]},
        }
    return Respond(http_response(200, json.dumps(body).encode()))


@pytest.fixture(scope="module")
def server() -> Iterator[FaultProxy]:
    with proxy(None, answer) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sync", "async"])
async def caller(request: pytest.FixtureRequest, server: FaultProxy) -> AsyncIterator[Caller]:
    cls = EvalClient if request.param == "sync" else AsyncEvalClient
    with pytest.MonkeyPatch.context() as env:  # no proxy from the environment
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env.delenv(name, raising=False)
            env.delenv(name.lower(), raising=False)
        shared = Caller(cls(server.url, max_retries=0))
    yield shared
    await shared.close()


@pytest.fixture(autouse=True)
def _fresh(server: FaultProxy) -> None:
    server.clear()


@pytest.mark.parametrize(("method", "http_method"), METHODS, ids=[m for m, _ in METHODS])
@pytest.mark.parametrize("job_id", ADVERSARIAL_IDS)
async def test_adversarial_job_id_stays_one_segment_on_the_wire(
    caller: Caller, server: FaultProxy, method: str, http_method: str, job_id: str
) -> None:
    await getattr(caller, method)(job_id, **CALL_KWARGS.get(method, {}))
    seen = server.seen
    assert [s.method for s in seen] == [http_method]
    target = seen[0].target
    assert target.startswith(b"/jobs/")
    segment = target[len(b"/jobs/") :]
    assert segment
    for forbidden in (b"/", b"?", b"#"):
        assert forbidden not in segment
    assert all(0x21 <= byte <= 0x7E for byte in target)  # no space, CR, LF, NUL, non-ASCII
    assert unquote_to_bytes(segment).decode("utf-8") == job_id
    assert seen[0].headers["host"] == server.url.removeprefix("http://")


@pytest.mark.parametrize("method", [m for m, _ in METHODS])
@pytest.mark.parametrize("job_id", ["", ".", ".."], ids=["empty", "dot", "dotdot"])
async def test_job_ids_that_cannot_be_a_segment_send_nothing(
    caller: Caller, server: FaultProxy, method: str, job_id: str
) -> None:
    connections = server.connections
    with pytest.raises(InvalidArgumentError):
        await getattr(caller, method)(job_id)
    assert server.seen == []
    assert server.connections == connections


@pytest.mark.parametrize("method", [m for m, _ in METHODS])
@pytest.mark.parametrize("job_id", ["job-\ud800", "\udcff"], ids=["high", "low"])
async def test_job_id_with_a_lone_surrogate_sends_nothing(
    caller: Caller, server: FaultProxy, method: str, job_id: str
) -> None:
    connections = server.connections
    with pytest.raises(InvalidArgumentError, match="job_id"):
        await getattr(caller, method)(job_id)
    assert server.seen == []
    assert server.connections == connections


@pytest.mark.parametrize("method", [m for m, _ in METHODS])
@pytest.mark.parametrize(
    "job_id", ["🙂" * 10_000, "x" * 70_000], ids=["10000-emoji", "70000-ascii"]
)
async def test_job_id_too_long_for_a_url_is_invalid_argument(
    caller: Caller, server: FaultProxy, method: str, job_id: str
) -> None:
    try:
        await getattr(caller, method)(job_id, **CALL_KWARGS.get(method, {}))
    except LmmsEvalError as exc:
        assert isinstance(exc, InvalidArgumentError)
    finally:
        assert server.seen == []
