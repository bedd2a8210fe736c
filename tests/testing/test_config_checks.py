"""The local server refuses a configuration that would fail every job or answer 500, when it
is made, not at the first request (an adversarial try)."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from lmms_eval_client.testing import JobGate, LocalServer, LocalServerConfig, create_app
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
        # the adversarial try of the testing package: OverflowError, a folder "b'...'",
        # socket.gaierror at start
        (lambda: LocalServerConfig(job_duration=10**400), ValueError, "job_duration"),
        (lambda: LocalServer(startup_timeout=10**400), ValueError, "startup_timeout"),
        (lambda: LocalServerConfig(temp_dir_root=b"/tmp"), TypeError, "temp_dir_root"),  # type: ignore[arg-type]
        (lambda: LocalServer(host="[::1]"), ValueError, "without brackets"),
        (lambda: JobGate().wait_until_held(timeout=math.nan), ValueError, "timeout"),
        (lambda: JobGate().wait_until_held(timeout=math.inf), ValueError, "timeout"),
        (lambda: JobGate().wait_until_held(count="1"), ValueError, "count"),  # type: ignore[arg-type]
        (lambda: LocalServer().stop(timeout=math.nan), ValueError, "timeout"),
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


def test_one_app_served_twice_at_once_is_refused() -> None:
    # The adversarial try of the testing package: both servers' requests reached the later
    # one's jobs and queue; a job sent to the first vanished when the second stopped.
    app = create_app(LocalServerConfig(job_duration=0.05))
    refused = "failed to start: this app is served already"  # (the review: not only the log)
    with LocalServer(app=app), pytest.raises(RuntimeError, match=refused):
        LocalServer(app=app).start()


def test_two_threads_starting_one_server_start_it_once() -> None:
    # The adversarial try of the testing package: both starts succeeded, one server leaked.
    server = LocalServer()
    barrier = threading.Barrier(2)
    said: list[str] = []

    def start() -> None:
        barrier.wait()
        try:
            server.start()
            said.append("started")
        except RuntimeError as exc:
            said.append(str(exc))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.stop()
    assert sorted(said) == ["started", "the LocalServer is already started"]
    assert not [t for t in threading.enumerate() if t.name.startswith("lmms-eval-local-server")]


def test_a_stop_that_times_out_says_so_and_can_be_done_again() -> None:
    # The adversarial try of the testing package: stop(timeout=0) closed the socket under the
    # running server (its thread crashed) and said it was stopped.
    server = LocalServer().start()
    with pytest.raises(RuntimeError, match="call stop"):
        server.stop(timeout=0)
    assert server.running
    server.stop()
    assert not server.running


async def test_no_limit_is_still_none() -> None:
    # The review: the checks refused timeout=None, which waited without a limit before.
    LocalServer().start().stop(timeout=None)
    gate = JobGate()
    gate.wait_until_held(count=0, timeout=None)
    await gate.until_held(count=0, timeout=None)
