"""The local server refuses a configuration that would fail every job or answer 500, when it
is made, not at the first request (an adversarial try)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lmms_eval_client.testing import LocalServer, LocalServerConfig, create_app


@pytest.mark.parametrize(
    ("make", "error", "says"),
    [
        (lambda: LocalServerConfig(results_timezone="UTC"), TypeError, "results_timezone"),  # type: ignore[arg-type]
        (lambda: LocalServerConfig(temp_dir_prefix=5), TypeError, "temp_dir_prefix"),  # type: ignore[arg-type]
        (lambda: LocalServerConfig(temp_dir_root="/no/such/folder"), ValueError, "temp_dir_root"),
        (lambda: LocalServerConfig(tasks_error=5), TypeError, "tasks_error"),  # type: ignore[arg-type]
        (lambda: LocalServerConfig(validate_names="no"), TypeError, "validate_names"),  # type: ignore[arg-type]
        (lambda: create_app({"job_duration": 0.1}), TypeError, "LocalServerConfig"),  # type: ignore[arg-type]
        (lambda: LocalServer(host=""), ValueError, "host"),
        (lambda: LocalServer(port=70000), ValueError, "port"),
        (lambda: LocalServer(port="80"), ValueError, "port"),  # type: ignore[arg-type]
    ],
)
def test_a_configuration_that_cannot_work_is_refused_when_made(
    make: Callable[[], object], error: type[Exception], says: str
) -> None:
    # Before: accepted; then every job failed, GET /tasks answered 500, or (host="") the
    # server listened on every interface at a URL no client accepts.
    with pytest.raises(error, match=says):
        make()


@pytest.mark.parametrize("port", ["99999", "-1", "abc"])
def test_the_command_refuses_a_port_out_of_range_as_a_usage_error(
    tmp_path: Path, port: str
) -> None:
    # Before: a traceback (OverflowError from bind), exit 1.
    done = subprocess.run(
        [sys.executable, "-m", "lmms_eval_client.testing", "--port", port],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "argument --port" in done.stderr and "Traceback" not in done.stderr
