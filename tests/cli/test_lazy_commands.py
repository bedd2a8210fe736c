"""The command line loads only what the command run needs (issue 22).

``app.COMMANDS`` says which module holds each command and what ``--help`` lists for it:
these tests hold the table equal to the commands themselves, and check, in fresh
interpreters, that ``--help`` imports no command module (nor httpx, pydantic, the models)
and that ``status`` imports its own module alone, without rich (nor httpx's own command line).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import httpx
import pytest
import typer
from typer.testing import CliRunner

from lmms_eval_client.cli import app as app_module
from lmms_eval_client.cli.app import COMMANDS, app
from lmms_eval_client.testing import LocalServer

from ..servers import free_port

# Runs the console script's main() with these arguments, then prints the modules it loaded.
_PROBE = """
import json, sys
sys.argv = ["lmms-eval-client", *json.loads(sys.argv[1])]
from lmms_eval_client.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args)], capture_output=True, text=True
    )
    modules: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return set(modules)


def first_paragraph(text: str) -> str:
    return inspect.cleandoc(text).split("\n\n")[0].replace("\n", " ").strip()


def test_the_table_lists_every_command_with_its_own_summary() -> None:
    found: dict[str, str] = {}
    for module in dict.fromkeys(module for module, _ in COMMANDS.values()):
        for name, command in app_module._load(module).items():
            assert COMMANDS[name][0] == module, name
            found[name] = first_paragraph(command.short_help or command.help or "")
    assert list(found) == list(COMMANDS)  # the order --help shows
    assert found == {name: summary for name, (_, summary) in COMMANDS.items()}


def test_help_lists_every_command_and_runs_each_one() -> None:
    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    for name, (_, summary) in COMMANDS.items():
        assert name in shown.output and summary[:40] in shown.output, name
    group = typer.main.get_command(app)
    for name in COMMANDS:
        done = CliRunner().invoke(app, [name, "--help"])
        assert done.exit_code == 0, (name, done.output)
        assert group.name is not None


def test_help_imports_no_command_module_and_no_sdk_dependency() -> None:
    loaded = loaded_by("--help")
    commands = {f"lmms_eval_client.cli.{module}" for module, _ in COMMANDS.values()}
    assert not loaded & commands
    assert not {"httpx", "pydantic", "lmms_eval_api"} & loaded


@pytest.mark.slow
def test_status_imports_its_own_module_alone_and_no_rich() -> None:
    loaded = loaded_by("--server", f"http://127.0.0.1:{free_port()}", "status", "some-job")
    assert "lmms_eval_client.cli.status_commands" in loaded
    others = {"result_commands", "runs", "run_commands", "run_view", "run_export"}
    # nor submit's and wait's: their options and live view (issue 22: status is the command
    # scripts run most)
    others |= {"job_commands", "submit_options", "watch"}
    # (server_commands and submit_options: what they share)
    assert not {f"lmms_eval_client.cli.{module}" for module in others} & loaded
    # Nor httpx's own command line (click, rich, pygments: mlflow installs them here).
    assert not {name for name in loaded if name.split(".")[0] in {"rich", "click", "pygments"}}
    assert "lmms_eval_client._results.results" not in loaded
    assert "lmms_eval_client._results.file_access" not in loaded  # a client without filesystem=
    assert "lmms_eval_client._pool._sync.pool" not in loaded


def test_status_of_a_job_loads_the_jobs_models_only(local_server: LocalServer) -> None:
    # Building every generated model's validator was ~15 ms of each `status` (issue 22).
    body = {"model": "qwen2_vl", "tasks": ["mme"], "model_args": {"pretrained": "x/y"}}
    job_id = httpx.post(f"{local_server.url}/evaluate", json=body).json()["job_id"]
    loaded = loaded_by("--server", local_server.url, "status", job_id)
    models = {name.rsplit(".", 1)[1] for name in loaded if name.startswith("lmms_eval_api.models.")}
    assert {"job_info", "job_status", "evaluate_request", "model_result_files"} <= models
    assert not {"merge_request", "task_list_response", "queue_status_response"} & models


def test_httpx_command_line_still_runs_in_the_console_scripts_process() -> None:
    """The placeholder that keeps httpx's command line out of our commands loads it when
    called; and a process that loaded httpx first keeps httpx as it is."""
    code = """
import sys
from lmms_eval_client.cli import _skip_httpx_command_line
_skip_httpx_command_line()
import httpx
assert "click" not in sys.modules
try:
    httpx.main(["--help"])
except SystemExit as stop:
    assert stop.code == 0, stop.code
assert "click" in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Usage: httpx" in done.stdout
    first = "import httpx, sys\nfrom lmms_eval_client.cli import _skip_httpx_command_line\n"
    first += "real = sys.modules['httpx._main']\n_skip_httpx_command_line()\n"
    first += "assert sys.modules['httpx._main'] is real"
    assert subprocess.run([sys.executable, "-c", first]).returncode == 0


def test_the_console_script_spares_pydantic_its_plugin_search_unless_told() -> None:
    # Issue 22: pydantic's first model read the entry points of every installed
    # distribution, 16-26 ms of `status` here. The caller's own setting wins.
    code = """
import os, sys
from lmms_eval_client.cli import main
sys.argv = ["lmms-eval-client", "--version"]
try:
    main()
except SystemExit:
    pass
print(repr(os.environ.get("PYDANTIC_DISABLE_PLUGINS")), file=sys.stderr)
"""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    for given, expected in ((None, "'__all__'"), ("", "''"), ("logfire", "'logfire'")):
        run_env = env if given is None else {**env, "PYDANTIC_DISABLE_PLUGINS": given}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=run_env
        )
        assert done.stderr.strip().splitlines()[-1] == expected, done.stderr
