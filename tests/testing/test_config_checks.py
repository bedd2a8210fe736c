"""The local server refuses a configuration that would fail every job or answer 500, when it
is made, not at the first request (an adversarial try)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lmms_eval_client.testing import LocalServer, LocalServerConfig, create_app
from lmms_eval_client.testing.__main__ import main


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
        # an adversarial try: a raw TypeError from iterating None; names no job can give
        (lambda: LocalServerConfig(tasks=None), TypeError, "tasks must be"),  # type: ignore[arg-type]
        (lambda: LocalServerConfig(models=None), TypeError, "models must be"),  # type: ignore[arg-type]
        (lambda: LocalServerConfig(tasks=[""]), ValueError, "tasks"),
        (lambda: LocalServerConfig(tasks=[" mme"]), ValueError, "tasks"),
        (lambda: LocalServerConfig(models=["qwen2_vl "]), ValueError, "models"),
        (lambda: LocalServerConfig(tasks=["mme,ai2d"]), ValueError, "comma"),
        # the server's thread started, then a raw TypeError: it kept answering, unstopped
        (lambda: LocalServer(startup_timeout="5"), ValueError, "startup_timeout"),  # type: ignore[arg-type]
        (lambda: LocalServer(startup_timeout=0), ValueError, "startup_timeout"),
        (lambda: LocalServer(startup_timeout=-1), ValueError, "startup_timeout"),
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


def test_names_given_by_a_generator_are_all_offered() -> None:
    # An adversarial try: the type check used the generator up, so the server offered no
    # task and failed every job ("Tasks not found: mme").
    config = LocalServerConfig(tasks=(name for name in ["mme", "ai2d"]))
    assert config.tasks == ("mme", "ai2d")


def test_the_command_refuses_an_empty_host_as_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An adversarial try: --host "" (an unset $HOST) listened on every interface.
    import uvicorn

    def served(*args: object, **kwargs: object) -> None:  # (never listen: not loopback)
        raise AssertionError(f"served on {kwargs.get('host')!r}")

    monkeypatch.setattr(uvicorn, "run", served)
    with pytest.raises(SystemExit) as done:
        main(["--host", ""])
    assert done.value.code == 2
    assert "argument --host" in capsys.readouterr().err
