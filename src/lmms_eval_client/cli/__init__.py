"""``lmms-eval-client``: the command line over the SDK (``pip install 'lmms-eval-client[cli]'``).

A thin shell: every command calls the public API (``EvalClient``, ``EvalResults``) and
prints what it got, as text for people or ``--json`` for scripts, and exits with a stable
code (:class:`~lmms_eval_client.cli.exit_codes.ExitCode`). ``import lmms_eval_client``
never imports this package (nor typer or rich).

Modules: ``app`` (global options, error handling), ``server_commands``, ``job_commands``,
``result_commands``, ``runs`` (the commands), ``connection`` (``--server`` -> a client),
``watch`` and ``live`` (waiting, and how it looks), ``output`` (JSON, tables, CSV),
``model_args`` (``--model-args`` and the other values), ``exit_codes``.

Example (a shell)::

    lmms-eval-client submit -m qwen2_vl -t mme -a pretrained=Qwen/Qwen2-VL-2B-Instruct --wait
"""

from __future__ import annotations

import sys


def main() -> None:
    """The console script: run the command line (``lmms-eval-client --help``)."""
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
