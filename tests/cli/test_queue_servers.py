"""``queue`` with several ``--server``s shows each server's running job, and says which
server did not answer instead of summing the others in silence (an adversarial try)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmms_eval_client import EvalClient
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..servers import refused_url
from .test_commands import invoke

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}


def test_queue_of_several_servers_shows_every_running_job_and_who_did_not_answer(
    tmp_path: Path,
) -> None:
    config = LocalServerConfig(job_duration=30.0, temp_dir_root=tmp_path)
    with LocalServer(config) as one, LocalServer(config) as two, refused_url() as down:
        running = []
        for server in (one, two):
            with EvalClient(server.url) as client:
                running.append(client.evaluate("qwen2_vl", ["mme"], model_args=QWEN).job_id)
        done = invoke(["--server", one.url, "--server", two.url, "--server", down, "queue"])
    assert done.exit_code == 0, done.output
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("running:")]
    assert all(job_id in line for job_id in running), done.stdout
    assert f"warning: {down} did not answer" in done.stderr


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["wait", ""], "wait"),
        (["submit", "-m", "", "-t", "mme"], "submit"),
        (["runs", "submit", "x.sqlite", "--key", "", "-m", "qwen2_vl", "-t", "mme"], "runs submit"),
        (["--timeout", "-1", "queue"], ""),  # a global option: the application's help
        (["--server", "http://127.0.0.1:9/?a=b", "status", "j"], ""),
    ],
)
def test_a_usage_error_found_by_the_sdk_points_at_the_commands_help(
    args: list[str], command: str
) -> None:
    # Before: click's usage errors said (see '... -h'), those the SDK's checks found did not.
    done = invoke(args, "http://127.0.0.1:9")
    assert done.exit_code == 2
    where = " ".join(["lmms-eval-client", command]).strip()
    assert done.stderr.endswith(f" (see '{where} -h')\n"), done.stderr
