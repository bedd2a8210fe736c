"""``lmms-eval-client``: the command line over the SDK (``pip install 'lmms-eval-client[cli]'``).

A thin shell: every command calls the public API (``EvalClient``, ``EvalResults``) and
prints what it got, as text for people or ``--json`` for scripts, and exits with a stable
code (:class:`~lmms_eval_client.cli.exit_codes.ExitCode`). ``import lmms_eval_client``
never imports this package (nor typer or rich).

Modules: ``app`` (global options, error handling), ``server_commands``, ``job_commands``,
``status_commands``, ``result_commands``, ``runs`` (the commands), ``connection``
(``--server`` -> a client), ``watch`` and ``live`` (waiting, and how it looks), ``output``
(JSON, tables, CSV),
``model_args`` (``--model-args`` and the other values), ``exit_codes``.

Example (a shell)::

    lmms-eval-client submit -m qwen2_vl -t mme -a pretrained=Qwen/Qwen2-VL-2B-Instruct --wait
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any


def _skip_httpx_command_line() -> None:
    """Keep ``import httpx`` from loading httpx's own command line in this process.

    httpx 0.28 imports it with the package (encode/httpx#3547): click, rich's console and
    pygments wherever they are installed (mlflow and wandb bring them), ~45 ms of every
    command of ours, which never runs httpx's. Only this console script's process does so,
    never a program that imports the SDK; and once httpx is loaded, nothing changes.
    ``httpx.main`` still works: it loads the real module when called.
    """
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    placeholder = types.ModuleType("httpx._main", "httpx's command line, loaded when called")

    def run_httpx_command_line(*args: Any, **kwargs: Any) -> Any:
        import importlib

        sys.modules.pop("httpx._main", None)
        return importlib.import_module("httpx._main").main(*args, **kwargs)

    placeholder.main = run_httpx_command_line  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = placeholder


def _no_pydantic_plugins() -> None:
    """Spare this process pydantic's search for plugins (its first model reads the entry
    points of every installed distribution: 16-26 ms of ``status`` among 180 of them, more
    in a training environment). Only the console script's process, and only when the
    caller did not say (``PYDANTIC_DISABLE_PLUGINS=`` empty: search as usual)."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def main() -> None:
    """The console script: run the command line (``lmms-eval-client --help``)."""
    _skip_httpx_command_line()
    _no_pydantic_plugins()
    try:
        from .app import main as run
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "typer"
        if missing.split(".")[0] not in {"typer", "rich", "click"}:
            raise
        print(
            f"error: the command line needs {missing}: pip install 'lmms-eval-client[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    run()
