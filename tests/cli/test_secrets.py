"""Secrets never reach the command line's output (issue 20, items 6 and 7).

Item 6: a gateway's 401 that quotes the Authorization header it got; the error line on
stderr (and ``--debug``'s traceback) must not show the API key or the base URL's password.

Item 7: the server echoes model_args, ``api_key=`` and ``hf_token=`` included, in every
JobInfo.request; ``submit --json``, ``status --json``, ``wait --json`` and ``runs ls|show
--json`` print them as ``***``.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer

from .conftest import QWEN_ARGS
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


MODEL_SECRETS = {"api_key": "sk-model-5ecret-0123", "HF_Token": "hf_5ecretTokenValue0123456789"}
SECRET_ARGS = f"{QWEN_ARGS},api_key={MODEL_SECRETS['api_key']},HF_Token={MODEL_SECRETS['HF_Token']}"


def model_args_in(data: Any) -> list[dict[str, Any]]:
    """Every model_args mapping in printed JSON."""
    found = []
    if isinstance(data, dict):
        if isinstance(data.get("model_args"), dict):
            found.append(data["model_args"])
        for value in data.values():
            found += model_args_in(value)
    elif isinstance(data, list):
        for value in data:
            found += model_args_in(value)
    return found


def assert_masked(output: str, expected: int) -> None:
    for secret in MODEL_SECRETS.values():
        assert secret not in output
    shown = model_args_in(json.loads(output))
    assert len(shown) >= expected, output
    for args in shown:
        assert args["pretrained"] == "Qwen/Qwen2-VL-2B-Instruct"
        assert args["api_key"] == "***" and args["HF_Token"] == "***"


def test_job_commands_print_secret_model_args_masked(server: LocalServer, tmp_path: Path) -> None:
    submitted = invoke(
        ["submit", "-m", "qwen2_vl", "-t", "mme", "-a", SECRET_ARGS, "--wait", "--json",
         "--poll-interval", "0.02", "--output-root", str(tmp_path)],
        server.url,
    )  # fmt: skip
    assert submitted.exit_code == 0, submitted.stderr
    assert_masked(submitted.stdout, 1)
    job_id = json.loads(submitted.stdout)["job_id"]
    for args in (["status", job_id, "--json"], ["wait", job_id, "--json"]):
        done = invoke(args, server.url)
        assert done.exit_code == 0, done.stderr
        assert_masked(done.stdout, 1)


def test_runs_commands_print_secret_model_args_masked(server: LocalServer, tmp_path: Path) -> None:
    path = tmp_path / "evals.sqlite"
    args = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct", **MODEL_SECRETS}
    with EvalClient(server.url) as client, EvalRun(client, path, poll_interval=0.02) as run:
        run.submit("qwen2_vl", ["mme"], model_args=args, labels={"epoch": 1})
        run.wait(timeout=60)
    for command in (
        ["runs", "ls", str(path), "--json"],
        ["runs", "show", str(path), "1", "--json"],
    ):
        done = invoke(command, server.url)
        assert done.exit_code == 0, done.stderr
        assert_masked(done.stdout, 2)  # the request, and the server's echo of it
