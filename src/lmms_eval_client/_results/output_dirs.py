"""Output directories the client chooses, so that every job's files are known before it runs.

Without ``output_dir`` the server writes to a fresh ``/tmp/lmms_eval_*`` folder that a
client on another machine cannot find. With an output root (argument or
``$LMMS_EVAL_OUTPUT_ROOT``) each submission without an explicit ``output_dir`` gets
``<root>/<yyyymmdd-hhmmss>-<model name>-<short id>``. The root must be a path the
*server* can write and the client can read: the same machine, or a shared filesystem
(mapped with ``path_map`` when it is mounted elsewhere here).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from datetime import datetime

from .._client.arguments import _check_text, check_server_dir
from .._exceptions import InvalidArgumentError
from .naming import MODEL_NAME_KEYS

# The environment variable read for output_root= when it is not given: the folder under
# which each job gets an output folder of its own (output_dir_for).
OUTPUT_ROOT_ENV = "LMMS_EVAL_OUTPUT_ROOT"
"""Environment variable with the output root (a path on the server's disk)."""


def check_output_root(output_root: str | os.PathLike[str] | None) -> str | None:
    """An output root given as an argument, as a str (None stays None)."""
    if output_root is None:
        return None
    root = os.fspath(output_root) if isinstance(output_root, os.PathLike) else output_root
    if not (isinstance(root, str) and root):
        raise InvalidArgumentError(
            f"output_root must be a non-empty path on the server's disk, got {root!r}"
        )
    _check_text("output_root", root)  # each job's output_dir starts with it
    return check_server_dir("output_root", root)


def resolve_output_root(output_root: str | os.PathLike[str] | None) -> str | None:
    """The output root in force: the argument, else ``$LMMS_EVAL_OUTPUT_ROOT`` (empty: unset).

    The one place the setting is resolved: a client calls it once, and what builds on a
    client (a pool, a run) asks the client for the result instead of reading it again.
    """
    if output_root is not None:
        return check_output_root(output_root)
    root = os.environ.get(OUTPUT_ROOT_ENV) or None
    return None if root is None else check_server_dir(f"${OUTPUT_ROOT_ENV}", root)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 60
_TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}$")


def _args_dict(model_args: Mapping[str, object] | str | None) -> dict[str, str]:
    if model_args is None:
        return {}
    if isinstance(model_args, str):
        pairs = (item.partition("=") for item in model_args.split(","))
        return {k.strip(): v.strip() for k, _, v in pairs if k.strip()}
    return {str(k): str(v) for k, v in model_args.items() if v is not None}


def model_label(model: str, model_args: Mapping[str, object] | str | None = None) -> str:
    """A short, filesystem-safe name of the model evaluated, for a folder name.

    The name lmms-eval derives from model_args (its last two path parts, joined by
    ``__`` as lmms-eval does), else ``model``.

    >>> model_label("qwen2_vl", {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"})
    'Qwen__Qwen2-VL-2B-Instruct'
    """
    args = _args_dict(model_args)
    name = next((args[k] for k in MODEL_NAME_KEYS if args.get(k)), "") or model
    name = "__".join(p for p in name.replace("\\", "/").split("/")[-2:] if p)
    name = _UNSAFE.sub("-", name).strip("-.")
    return name[:_MAX_NAME].rstrip("-.") or "model"


def output_dir_for(
    root: str,
    model: str,
    model_args: Mapping[str, object] | str | None = None,
    *,
    now: datetime | None = None,
    token: str | None = None,
) -> str:
    """A fresh output directory for one submission: ``<root>/<yyyymmdd-hhmmss>-<model>-<id>``.

    Readable (sorted by time, named after the model) and unique (``token``, default 8
    random hex digits). ``root`` is a path on the server's disk; the result is joined with
    ``/`` as the server (POSIX) expects. ``now`` defaults to the local time.

    >>> output_dir_for("/scratch/evals", "qwen2_vl", {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"},
    ...                now=datetime(2026, 12, 2, 5, 52, 37), token="1a2b3c4d")
    '/scratch/evals/20261202-055237-Qwen__Qwen2-VL-2B-Instruct-1a2b3c4d'
    """
    if not isinstance(root, str) or not root.strip():
        raise InvalidArgumentError(f"output root must be a non-empty path, not {root!r}")
    _check_text("output_root", root)  # ($LMMS_EVAL_OUTPUT_ROOT is read, not checked, first)
    if not isinstance(model, str):
        raise InvalidArgumentError(f"model must be a str, not {type(model).__name__}")
    if token is None:
        token = secrets.token_hex(4)
    elif not isinstance(token, str) or not _TOKEN.match(token):
        raise InvalidArgumentError(f"token must be 1-32 letters or digits, not {token!r}")
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = root.rstrip("/") or "/"
    name = f"{stamp}-{model_label(model, model_args)}-{token}"
    return f"{base}{name}" if base.endswith("/") else f"{base}/{name}"
