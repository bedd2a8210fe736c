"""The response size cap over real sockets, both clients: a body beyond max_response_bytes
(counted after decompression) raises ResponseTooLargeError, and a gzip bomb never inflates
in memory (a child process under an address-space limit proves it)."""

from __future__ import annotations

import copy
import functools
import gzip
import json
import pickle
import struct
import subprocess
import sys
import textwrap
import zlib

import httpx
import pytest

from lmms_eval_client import (
    APIConnectionError,
    APIResponseValidationError,
    AsyncEvalClient,
    EvalClient,
    InvalidArgumentError,
    JobInfo,
    ResponseTooLargeError,
)

from ..faults import Respond, Script, Seen, http_response, on, proxy, respond
from ..support import MINIMAL_REQUESTS, MakeClient, job_json

pytestmark = MINIMAL_REQUESTS

MB = 1024 * 1024
DEFAULT_LIMIT = 64 * MB
JOB = json.dumps(job_json("completed", job_id="job-1")).encode()


@functools.lru_cache
def gzip_bomb(decoded: int) -> bytes:
    """A valid gzip body of ``decoded`` spaces (a multiple of 1 MiB), about 1,000 times smaller.

    One compressed MiB, repeated: after a full flush each copy decodes on its own.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(b" " * MB) + deflate.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    crc = 0
    for _ in range(decoded // MB):
        crc = zlib.crc32(b" " * MB, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", crc, decoded & 0xFFFFFFFF)
    return header + block * (decoded // MB) + final + trailer


def gzipped(status: int, body: bytes, encoding: str = "gzip") -> Respond:
    return respond(status, body, headers={"content-encoding": encoding})


def test_the_bomb_is_what_it_claims() -> None:
    bomb = gzip_bomb(4 * MB)
    assert len(bomb) < 8 * 1024
    assert gzip.decompress(bomb) == b" " * (4 * MB)


async def test_a_gzip_bomb_stops_at_the_limit(make_client: MakeClient) -> None:
    bomb = gzip_bomb(64 * MB)
    with proxy(None, Script(then=gzipped(200, bomb))) as p:
        caller = make_client(p.url, max_retries=2, max_response_bytes=MB)
        with pytest.raises(ResponseTooLargeError) as info:
            await caller.get_job("job-1")
        assert len(p.seen) == 1  # not retried: the same answer would come again
    exc = info.value
    assert isinstance(exc, APIResponseValidationError)
    assert exc.limit == MB
    assert exc.status_code == 200
    assert exc.response.content == b""  # not kept
    message = str(exc)
    assert "max_response_bytes = 1,048,576 bytes (1 MiB)" in message
    assert "after decompression" in message
    assert "raise the limit" in message
    assert "GET" in message and "/jobs/job-1" in message
    assert len(message) < 1000


async def test_the_default_limit_is_64_mib_of_decoded_bytes(make_client: MakeClient) -> None:
    bomb = gzip_bomb(DEFAULT_LIMIT + MB)  # 65 KB on the wire
    with proxy(None, Script(then=gzipped(200, bomb))) as p:
        caller = make_client(p.url, max_retries=0)
        with pytest.raises(ResponseTooLargeError) as info:
            await caller.get_job("job-1")
    assert info.value.limit == DEFAULT_LIMIT
    assert "64 MiB" in str(info.value)


async def test_a_body_of_exactly_the_limit_is_read(make_client: MakeClient) -> None:
    body = JOB + b" " * (4096 - len(JOB))
    with proxy(None, Script(then=respond(200, body))) as p:
        caller = make_client(p.url, max_retries=0, max_response_bytes=4096)
        job = await caller.get_job("job-1")
        assert isinstance(job, JobInfo) and job.job_id == "job-1"
        p.rule = Script(then=respond(200, body + b" "))
        with pytest.raises(ResponseTooLargeError):
            await caller.get_job("job-1")


async def test_a_declared_length_beyond_the_limit_fails_before_reading(
    make_client: MakeClient,
) -> None:
    # Claims 10 GB, sends a few bytes and then nothing: only the headers are read.
    lying = Respond(http_response(200, b'{"job_id": ', content_length=10**10))
    with proxy(None, Script(then=lying)) as p:
        caller = make_client(p.url, max_retries=0, timeout=30)
        with pytest.raises(ResponseTooLargeError, match="larger than max_response_bytes"):
            await caller.get_job("job-1")


async def test_a_chunked_body_beyond_the_limit(make_client: MakeClient) -> None:
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
    head = b"HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n"
    with proxy(None, Script(then=Respond(head + chunks))) as p:
        caller = make_client(p.url, max_retries=0, max_response_bytes=MB)
        with pytest.raises(ResponseTooLargeError) as info:
            await caller.get_job("job-1")
    assert info.value.status_code == 500
    assert "it starts: b'xxxx" in str(info.value)


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "deflate-raw"])
async def test_compressed_bodies_within_the_limit_are_decoded(
    make_client: MakeClient, encoding: str
) -> None:
    if encoding == "deflate-raw":  # no zlib header, as some servers send "deflate"
        deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        body, encoding = deflate.compress(JOB) + deflate.flush(), "deflate"
    elif encoding == "deflate":
        body = zlib.compress(JOB)
    else:
        body = gzip.compress(JOB)
    with proxy(None, Script(then=gzipped(200, body, encoding))) as p:
        caller = make_client(p.url, max_retries=0, max_response_bytes=len(JOB))
        job = await caller.get_job("job-1")
    assert job.status == "completed"


async def test_only_boundable_encodings_are_asked_for(make_client: MakeClient) -> None:
    with proxy(None, Script(then=respond(200, JOB))) as p:
        caller = make_client(p.url, max_retries=0)
        await caller.get_job("job-1")
    assert p.seen[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("encoding", ["gzip, gzip", "br", "zstd"])
async def test_encodings_that_cannot_be_bounded_are_refused(
    make_client: MakeClient, encoding: str
) -> None:
    # Stacked gzip multiplies the inflation of each chunk; br and zstd were not asked for.
    body = gzip.compress(gzip.compress(JOB)) if encoding == "gzip, gzip" else b"\x00" * 32
    with proxy(None, Script(then=gzipped(200, body, encoding))) as p:
        caller = make_client(p.url, max_retries=0)
        with pytest.raises(APIConnectionError, match="did not ask for"):
            await caller.get_job("job-1")


async def test_an_unhealthy_bomb_is_just_unhealthy(make_client: MakeClient) -> None:
    with proxy(None, Script(then=gzipped(200, gzip_bomb(8 * MB)))) as p:
        caller = make_client(p.url, max_response_bytes=MB)
        assert await caller.is_healthy() is False


async def test_wait_for_job_stops_on_a_bomb(make_client: MakeClient) -> None:
    with proxy(None, Script(then=gzipped(200, gzip_bomb(8 * MB)))) as p:
        caller = make_client(p.url, max_response_bytes=MB)
        with pytest.raises(ResponseTooLargeError):
            await caller.wait_for_job("job-1", poll_interval=0.01, timeout=30, verbose=False)
        assert len(p.seen) == 1


async def test_a_too_large_answer_to_a_submission_says_the_job_may_exist(
    make_client: MakeClient,
) -> None:
    rule = Script(gzipped(200, gzip_bomb(8 * MB)), match=on("POST", "/evaluate"))
    with proxy(None, rule) as p:
        caller = make_client(p.url, max_response_bytes=MB)
        with pytest.raises(ResponseTooLargeError) as info:
            await caller.evaluate(model="m", tasks=["t"])
        assert len(p.seen) == 1
    assert "may have created a job" in str(info.value)
    assert "get_queue_status()" in str(info.value)


@pytest.mark.parametrize("kind_", ["sync", "async"])
async def test_an_injected_http_client_is_capped_too(kind_: str) -> None:
    with proxy(None, Script(then=gzipped(200, gzip_bomb(8 * MB)))) as p:
        if kind_ == "sync":
            with httpx.Client(base_url=p.url) as http:
                client = EvalClient(http_client=http, max_response_bytes=MB, max_retries=0)
                with pytest.raises(ResponseTooLargeError):
                    client.get_job("job-1")
        else:
            async with httpx.AsyncClient(base_url=p.url) as ahttp:
                aclient = AsyncEvalClient(http_client=ahttp, max_response_bytes=MB, max_retries=0)
                with pytest.raises(ResponseTooLargeError):
                    await aclient.get_job("job-1")


async def test_the_error_pickles_without_the_request_headers(make_client: MakeClient) -> None:
    with proxy(None, Script(then=gzipped(200, gzip_bomb(2 * MB)))) as p:
        caller = make_client(p.url, api_key="sk-secret-123", max_response_bytes=MB)
        with pytest.raises(ResponseTooLargeError) as info:
            await caller.get_job("job-1")
    exc = info.value
    data = pickle.dumps(exc)
    assert b"sk-secret-123" not in data
    for copied in (pickle.loads(data), copy.deepcopy(exc)):
        assert type(copied) is ResponseTooLargeError
        assert str(copied) == str(exc)
        assert copied.limit == MB
        assert copied.status_code == 200
        assert copied.response.request.method == "GET"
        assert "sk-secret-123" not in repr(copied.response.request.headers)


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "1024", None])
@pytest.mark.parametrize("cls", [EvalClient, AsyncEvalClient])
def test_max_response_bytes_must_be_a_positive_int(
    cls: type[EvalClient] | type[AsyncEvalClient], value: object
) -> None:
    with pytest.raises(InvalidArgumentError, match="max_response_bytes"):
        cls("http://127.0.0.1:9", max_response_bytes=value)  # type: ignore[arg-type]


# A child process, so that an unbounded read can fail here without hurting the test run: its
# address space is limited to what it uses at start plus 768 MiB, far below the 1 GiB a
# bomb inflates to (and the 2-4 GB an unbounded read of it needs).
CHILD = textwrap.dedent(
    """
    import asyncio, resource, sys
    from lmms_eval_client import AsyncEvalClient, EvalClient

    kind, url = sys.argv[1:]
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    cap = vm * 1024 + 768 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    async def main():
        async with AsyncEvalClient(url, max_retries=0) as client:
            await client.get_job("job-1")

    try:
        if kind == "sync":
            with EvalClient(url, max_retries=0) as client:
                client.get_job("job-1")
        else:
            asyncio.run(main())
        outcome = "no error"
    except BaseException as exc:
        outcome = type(exc).__name__
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(outcome, peak)
    """
)


@pytest.mark.parametrize("kind_", ["sync", "async"])
@pytest.mark.slow
def test_a_1_gib_gzip_bomb_is_stopped_under_a_memory_limit(kind_: str) -> None:
    bomb = gzip_bomb(1024 * MB)
    assert len(bomb) < 2 * MB

    def serve(seen: Seen) -> Respond:
        return gzipped(200, bomb)

    with proxy(None, serve) as p:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, kind_, p.url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome, peak_mib = done.stdout.split()
    assert outcome == "ResponseTooLargeError", f"{outcome}, peak RSS {peak_mib} MiB"


@pytest.mark.parametrize("kind_", ["sync", "async"])
async def test_a_body_read_by_a_response_hook_is_still_used_and_checked(kind_: str) -> None:
    """An injected client's hook may read the body itself (e.g. to log it)."""
    with proxy(None, Script(then=respond(200, JOB))) as p:
        if kind_ == "sync":
            hooks = {"response": [lambda response: response.read()]}
            with httpx.Client(base_url=p.url, event_hooks=hooks) as http:
                job = EvalClient(http_client=http).get_job("job-1")
                small = EvalClient(http_client=http, max_response_bytes=len(JOB) - 1)
                with pytest.raises(ResponseTooLargeError):
                    small.get_job("job-1")
        else:

            async def read(response: httpx.Response) -> None:
                await response.aread()

            async with httpx.AsyncClient(base_url=p.url, event_hooks={"response": [read]}) as ah:
                job = await AsyncEvalClient(http_client=ah).get_job("job-1")
                asmall = AsyncEvalClient(http_client=ah, max_response_bytes=len(JOB) - 1)
                with pytest.raises(ResponseTooLargeError):
                    await asmall.get_job("job-1")
    assert job.status == "completed"
