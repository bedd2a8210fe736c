"""Bad answers over a real socket, both clients: each becomes one documented, typed error
with a short message; nothing raw from httpx, json or pydantic escapes.

tests/client/test_errors.py checks the same mapping through respx; here the bytes cross a
loopback socket, so httpx's own parsing (framing, chunking, decoding) is in the path too.
"""

from __future__ import annotations

import json

import pytest

from lmms_eval_client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    InternalServerError,
    LmmsEvalError,
    NotFoundError,
)

from .._errors import documented_type
from ..faults import NGINX_502, Action, Close, Respond, Script, http_response, proxy
from ..support import MakeClient

MB = 1024 * 1024
QUEUE = {"queue_size": 0, "running_job": None, "queued_jobs": [], "completed_jobs": 0}


def answer(status: int, body: bytes = b"", **kwargs: object) -> Respond:
    return Respond(http_response(status, body, **kwargs))  # type: ignore[arg-type]


def dropped(data: bytes) -> Respond:
    """These bytes, then the connection closes."""
    return Respond(data, close=True)


# (id, what the server sends to GET /queue, the error, a fragment of its message)
BAD_RESPONSES: list[tuple[str, Action, type[LmmsEvalError], str]] = [
    ("html-502", answer(502, NGINX_502, content_type="text/html"), InternalServerError, "502"),
    ("html-404", answer(404, b"<html>Not Found</html>", content_type="text/html"),
     NotFoundError, "<html>Not Found</html>"),
    ("html-200", answer(200, b"<html><body>Welcome to nginx!</body></html>",
                        content_type="text/html"), APIResponseValidationError, "is not JSON"),
    ("truncated-json", answer(200, b'{"queue_size": 0, "queued_jo'),
     APIResponseValidationError, "is not JSON"),
    ("truncated-body", dropped(http_response(200, b'{"queue_size": 0', content_length=100)),
     APIConnectionError, "complete message body"),
    ("http10-cut-at-close", dropped(b'HTTP/1.0 200 OK\r\n\r\n{"queue_size"'),
     APIResponseValidationError, "is not JSON"),
    ("wrong-types", answer(200, json.dumps({**QUEUE, "failed_jobs": "none"}).encode()),
     APIResponseValidationError, "does not match"),
    ("missing-field", answer(200, json.dumps(QUEUE).encode()),
     APIResponseValidationError, "does not match"),
    ("json-array", answer(200, b"[]"), APIResponseValidationError, "does not match"),
    ("json-null", answer(200, b"null"), APIResponseValidationError, "does not match"),
    ("json-string", answer(200, b'"ok"'), APIResponseValidationError, "does not match"),
    ("empty-200", answer(200), APIResponseValidationError, "is empty"),
    ("empty-500", answer(500), InternalServerError, "500"),
    ("no-content-204", answer(204), APIResponseValidationError, "204"),
    ("redirect-301", answer(301, headers={"location": "http://elsewhere:8000/queue"}),
     APIStatusError, "redirects to http://elsewhere:8000/queue"),
    ("unknown-status-599", answer(599, b'{"detail": "odd proxy"}'), InternalServerError,
     "odd proxy"),
    ("invalid-utf8", answer(200, b"\xff\xfe{\x00}"), APIResponseValidationError, "200"),
    ("bad-gzip", answer(200, b"not gzip at all", headers={"content-encoding": "gzip"}),
     APIConnectionError, "DecodingError"),
    ("bad-chunk", dropped(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n"),
     APIConnectionError, "chunk"),
    ("not-http", dropped(b"SSH-2.0-OpenSSH_9.6\r\n"), APIConnectionError, "RemoteProtocolError"),
    ("closed-without-answer", Close(), APIConnectionError, "RemoteProtocolError"),
    ("html-200-8MB", answer(200, b"<html>" + b"x" * (8 * MB), content_type="text/html"),
     APIResponseValidationError, "bytes)"),
    ("json-500-8MB-detail", answer(500, json.dumps({"detail": "Traceback\n" + "x" * 8 * MB})
                                   .encode()), InternalServerError, "characters)"),
    ("json-200-8MB-wrong-type", answer(200, json.dumps({**QUEUE, "failed_jobs": "x" * 8 * MB})
                                       .encode()), APIResponseValidationError, "bytes)"),
]  # fmt: skip

DEEP = b"[" * 100_000


@pytest.mark.parametrize(
    ("action", "error", "fragment"),
    [case[1:] for case in BAD_RESPONSES],
    ids=[case[0] for case in BAD_RESPONSES],
)
async def test_bad_response_becomes_a_typed_error(
    make_client: MakeClient, action: Action, error: type[LmmsEvalError], fragment: str
) -> None:
    with proxy(None, Script(then=action)) as p:
        caller = make_client(p.url, max_retries=0, timeout=5)
        with pytest.raises(LmmsEvalError) as info:
            await caller.get_queue_status()
        assert len(p.seen) == 1
    exc = info.value
    assert documented_type(exc) is error
    assert fragment in str(exc)
    assert "/queue" in str(exc)
    assert len(str(exc)) < 1000  # a body of megabytes is quoted, never copied


@pytest.mark.parametrize("status", [200, 500])
async def test_deeply_nested_json_is_a_typed_error(make_client: MakeClient, status: int) -> None:
    with proxy(None, Script(then=answer(status, DEEP))) as p:
        caller = make_client(p.url, max_retries=0)
        with pytest.raises(LmmsEvalError):
            await caller.get_queue_status()


@pytest.mark.parametrize("location", ["mailto:admin@example.com", "a:b"])
async def test_redirect_to_a_malformed_location_is_a_typed_error(
    make_client: MakeClient, location: str
) -> None:
    with proxy(None, Script(then=answer(301, headers={"location": location}))) as p:
        caller = make_client(p.url, max_retries=0)
        # httpx loses the 3xx response when it cannot parse its Location: no status to map.
        with pytest.raises(APIConnectionError, match="redirects to an invalid URL"):
            await caller.get_queue_status()
