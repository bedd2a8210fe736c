"""codegen/spec_check.py as a command: the pinned export, the pin itself, and --url.

The in-process runs import the installed lmms-eval, so they run in a subprocess (the
check silences loguru for good); the --url runs call ``main`` against a LocalServer on
127.0.0.1.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from pydantic import BaseModel

from lmms_eval_client.testing import LocalServer

from .conftest import OPENAPI, ROOT, SPEC_CHECK

NEW_FIELD = {"anyOf": [{"type": "number"}, {"type": "null"}], "description": "Sampling."}


def pinned_version() -> str:
    """LMMS_EVAL_VERSION as the Makefile sets it."""
    match = re.search(r"^LMMS_EVAL_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile must set LMMS_EVAL_VERSION"
    return match.group(1)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SPEC_CHECK), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write(tmp_path: Path, contract: dict[str, Any]) -> Path:
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


# -- the pin ----------------------------------------------------------------------------


def test_the_environment_and_the_contract_match_the_pin() -> None:
    pin = pinned_version()
    assert version("lmms-eval") == pin, "the .venv is stale: run `make install`"
    assert yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))["info"]["version"] == pin


@pytest.mark.slow
def test_the_checked_in_contract_covers_the_pinned_export_both_ways() -> None:
    done = run("--pin", pinned_version(), OPENAPI)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "covers the live lmms-eval" in done.stdout
    assert "both ways" in done.stdout


@pytest.mark.slow
def test_a_request_field_the_pinned_server_ignores_is_reported(
    tmp_path: Path, contract: dict[str, Any]
) -> None:
    contract["components"]["schemas"]["EvaluateRequest"]["properties"]["temperature"] = NEW_FIELD
    contract["components"]["schemas"]["MergeRequest"]["properties"]["dry_run"] = {"type": "boolean"}
    done = run(write(tmp_path, contract))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "POST /evaluate: request field EvaluateRequest.temperature in openapi.yaml is not "
        "accepted live",
        "POST /merge: request field MergeRequest.dry_run in openapi.yaml is not accepted live",
    ]
    assert "does not cover the live lmms-eval" in done.stderr


@pytest.mark.slow
def test_a_bumped_pin_fails_until_the_contract_names_it(
    tmp_path: Path, contract: dict[str, Any]
) -> None:
    installed = version("lmms-eval")
    contract["info"]["version"] = "0.0.1"
    done = run("--pin", installed, write(tmp_path, contract))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"openapi.yaml: info.version is 0.0.1, the pinned lmms-eval is {installed} "
        "(review the contract against it, then `make generate`)"
    ]


def test_a_stale_environment_is_an_error() -> None:
    done = run("--pin", "999.0", OPENAPI)
    assert done.returncode == 2
    assert f"lmms-eval {version('lmms-eval')} is installed but 999.0 is pinned" in done.stderr
    assert "make install" in done.stderr
    assert done.stdout == ""


# -- --url ------------------------------------------------------------------------------


def test_url_against_a_server_that_speaks_the_contract(
    spec_check: ModuleType, server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{server.url}/openapi.json"
    assert spec_check.main(["--url", url, str(OPENAPI)]) == 0
    out = capsys.readouterr().out
    assert f"covers the server at {url}" in out


def test_url_reports_what_the_server_has_and_ours_lacks(
    spec_check: ModuleType,
    server: LocalServer,
    tmp_path: Path,
    contract: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    del contract["components"]["schemas"]["EvaluateRequest"]["properties"]["device"]
    del contract["paths"]["/queue"]
    url = f"{server.url}/openapi.json"
    assert spec_check.main(["--url", url, str(write(tmp_path, contract))]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "POST /evaluate: request field EvaluateRequest.device missing from openapi.yaml",
        # JobInfo.request echoes the submission: the server sends device there too
        "GET /jobs/{job_id}: 200 response field EvaluateRequest.device missing from openapi.yaml",
        "GET /queue: operation missing from openapi.yaml",
    ]
    assert f"does not cover the server at {url} (3 differences)" in captured.err


# The models of a server whose API moved on (module level: FastAPI resolves the postponed
# annotations here). /evaluate takes temperature, no longer device; there is no /queue.
class EvaluateRequest(BaseModel):
    model: str
    tasks: list[str]
    temperature: float | None = None


class JobSubmitResponse(BaseModel):
    job_id: str


def newer_server() -> FastAPI:
    app = FastAPI()

    @app.post("/evaluate")
    def submit_evaluation(body: EvaluateRequest) -> JobSubmitResponse:
        return JobSubmitResponse(job_id="x")

    return app


def test_url_reports_what_ours_sends_and_the_server_does_not_read(
    spec_check: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalServer(app=newer_server()) as newer:
        url = f"{newer.url}/openapi.json"
        assert spec_check.main(["--url", url, str(OPENAPI)]) == 1
    lines = capsys.readouterr().out.splitlines()
    for expected in (
        "POST /evaluate: request field EvaluateRequest.temperature missing from openapi.yaml",
        "POST /evaluate: request field EvaluateRequest.device in openapi.yaml is not accepted live",
        "POST /evaluate: request field EvaluateRequest.model_args in openapi.yaml is not "
        "accepted live",
        "GET /queue: operation in openapi.yaml is not served live",
        "DELETE /jobs/{job_id}: operation in openapi.yaml is not served live",
    ):
        assert expected in lines


def test_url_that_serves_no_contract_is_an_error(
    spec_check: ModuleType, server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert spec_check.main(["--url", f"{server.url}/health", str(OPENAPI)]) == 2
    assert "did not answer an OpenAPI document" in capsys.readouterr().err
    assert spec_check.main(["--url", f"{server.url}/nothing-here", str(OPENAPI)]) == 2
    assert "404" in capsys.readouterr().err


def test_url_of_nothing_listening_is_an_error(
    spec_check: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = spec_check.main(["--url", f"http://127.0.0.1:{port}/openapi.json", str(OPENAPI)])
    assert code == 2
    assert "cannot read the live contract from" in capsys.readouterr().err
