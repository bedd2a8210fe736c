"""A results or samples file over http(s) whose host refuses, or answers an error: the
error says so, not "no such file" (an adversarial try: all three were "no such file",
fsspec's FileNotFoundError hiding the cause it was raised from).

Against a web server on 127.0.0.1: ``/boom/...`` answers 500, ``/auth/...`` 401, the rest
serves a folder holding the real files (``single/``).
"""

from __future__ import annotations

import functools
import http.server
from collections.abc import Iterator

import pytest

from lmms_eval_client import EvalResults, ResultsNotReachableError, iter_samples

from ..servers import refused_url, serving
from .conftest import DATA, SINGLE, SINGLE_SAMPLES

SAMPLES = SINGLE_SAMPLES.name
RESULTS = SINGLE.name


class _Failing(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _fail(self) -> bool:
        for part, status in (("/boom/", 500), ("/auth/", 401)):
            if part in self.path:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
        return False

    def do_GET(self) -> None:
        if not self._fail():
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self._fail():
            super().do_HEAD()


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    handler = functools.partial(_Failing, directory=str(DATA))
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as port:
        yield f"http://127.0.0.1:{port}"


def _reason(call: object) -> str:
    with pytest.raises(ResultsNotReachableError) as caught:
        call()  # type: ignore[operator]
    return caught.value.reason


@pytest.mark.parametrize(("folder", "says"), [("boom", "HTTP 500"), ("auth", "HTTP 401")])
def test_an_http_error_is_said_as_such(web: str, folder: str, says: str) -> None:
    results = _reason(lambda: EvalResults.load(f"{web}/{folder}/{RESULTS}"))
    samples = _reason(lambda: iter_samples(f"{web}/{folder}/{SAMPLES}"))
    assert says in results and says in samples, (results, samples)


def test_a_refused_connection_is_said_as_such() -> None:
    with refused_url() as url:
        results = _reason(lambda: EvalResults.load(f"{url}/single/{RESULTS}"))
        samples = _reason(lambda: iter_samples(f"{url}/single/{SAMPLES}"))
    for reason in (results, samples):
        assert "cannot connect" in reason.lower() and "no such file" not in reason, reason


def test_a_missing_file_is_still_no_such_file(web: str) -> None:
    assert _reason(lambda: EvalResults.load(f"{web}/single/x_{RESULTS}")) == "no such file"
    assert _reason(lambda: iter_samples(f"{web}/single/x_{SAMPLES}")) == "no such file"
    assert next(iter_samples(f"{web}/single/{SAMPLES}")).doc_id == 0
