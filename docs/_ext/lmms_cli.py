"""The command-line reference, generated from the typer app when the docs are built.

``docs/reference/cli.md`` holds the marker line ``<!-- cli-reference -->``; on reading that
page, the marker is replaced with typer's own Markdown for the app (every command, its
usage, arguments and options, from the same help ``--help`` prints). Nothing generated is
written to the source tree.
"""

from __future__ import annotations

from typing import Any

import typer
from sphinx.application import Sphinx
from typer.cli import get_docs_for_click

MARKER = "<!-- cli-reference -->"


def cli_markdown() -> str:
    from lmms_eval_client.cli.app import app

    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="lmms-eval-client")
    return get_docs_for_click(obj=command, ctx=ctx, name="lmms-eval-client", indent=1)


def _insert(app: Sphinx, docname: str, source: list[str]) -> None:
    if MARKER in source[0]:
        source[0] = source[0].replace(MARKER, cli_markdown())


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("source-read", _insert)
    return {"parallel_read_safe": True, "version": "1"}
