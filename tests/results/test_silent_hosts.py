"""An http(s) file host that takes the connection and never answers (a results URL, a
path_map target): each read is bounded (the runs CLI's adversarial try: ``results URL`` ran
700 s, and ``runs watch --timeout 10`` hung in a run's summary read), and the error says it
timed out, not "no such file" (fsspec's http wraps the timeout in a FileNotFoundError)."""

from __future__ import annotations

import pytest

from lmms_eval_client import EvalResults, ResultsNotReachableError
from lmms_eval_client._results import url_filesystems

from ..faults import Script, Stall, proxy


@pytest.mark.timeout(60)  # before: aiohttp's 5 minutes per request, several requests
def test_a_silent_file_host_ends_in_a_typed_error_that_says_it_timed_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("aiohttp")
    monkeypatch.setattr(url_filesystems, "HTTP_READ_SECONDS", 0.2)
    with (
        proxy(None, Script(then=Stall())) as silent,
        pytest.raises(ResultsNotReachableError, match="timed out") as caught,
    ):
        EvalResults.load(f"{silent.url}/evals/x_results.json")
    assert "no such file" not in str(caught.value)


def test_only_http_gets_timeouts() -> None:
    assert url_filesystems._bounded("memory://a/b") == {}
    (timeout,) = url_filesystems._bounded("HTTPS://h/x")["client_kwargs"].values()  # type: ignore[attr-defined]
    assert (timeout.sock_connect, timeout.sock_read, timeout.total) == (10.0, 60.0, None)
