"""Secrets never reach the command line's output (issue 20, items 6 and 7).

Item 6: a gateway's 401 that quotes the Authorization header it got; the error line on
stderr (and ``--debug``'s traceback) must not show the API key or the base URL's password.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .test_commands import invoke

KEY = "sk-live-5ecret-0123456789"
PASSWORD = "pa55w0rd-5ecret"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


class _QuotingGateway(BaseHTTPRequestHandler):
    """Answers every request 401, quoting the credentials it was sent."""

    def do_GET(self) -> None:
        body = f'{{"detail": "bad credentials: Authorization: {self.headers["Authorization"]}"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _QuotingGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
@pytest.mark.parametrize("how", ["api_key", "base_url password"])
def test_a_quoted_credential_is_not_printed(gateway: str, how: str, debug: list[str]) -> None:
    if how == "api_key":
        result = invoke([*debug, "--api-key", KEY, "status", "job-1"], f"http://{gateway}")
        secrets = [KEY]
    else:
        result = invoke([*debug, "status", "job-1"], f"http://alice:{PASSWORD}@{gateway}")
        secrets = [PASSWORD, BASIC]
    assert result.exit_code == 1, result.output
    assert "401" in result.stderr and "bad credentials" in result.stderr
    for secret in secrets:
        assert secret not in result.stdout and secret not in result.stderr
