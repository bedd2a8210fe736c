"""lmms-eval's rules for naming a job's results folder (``<output_dir>/<model name>/``), in
one place: the client finds a job's own folder by them, the local server files results
under them, and ``evaluate`` warns when model_args gives them no name.

lmms-eval 0.7.3 (``loggers.evaluation_tracker``) looks for ``<key>=`` as a substring of the
comma-joined model_args; the first key found names the model, up to the next comma; the
folder is the name's last two path parts, unsafe runs replaced by ``__``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# In lmms-eval's order: peft/delta come with pretrained, so they win.
MODEL_NAME_KEYS = (
    "peft", "delta", "pretrained", "model", "model_version", "model_name", "model_id", "path",
    "engine",
)  # fmt: skip
_UNSAFE_IN_NAMES = re.compile(r"[\"<>:/\|\\?\*\[\]]+")


def model_args_string(model_args: Mapping[str, Any] | None) -> str:
    """model_args as the server passes them to lmms-eval: ``k=v`` joined by commas.

    >>> model_args_string({"pretrained": "org/x", "max_pixels": 1024})
    'pretrained=org/x,max_pixels=1024'
    """
    return ",".join(f"{key}={value}" for key, value in (model_args or {}).items())


def model_name_from_args(model_args: str) -> str:
    """The model name lmms-eval reads from a model_args string ("" when none is found):
    the first of ``MODEL_NAME_KEYS`` whose ``<key>=`` occurs anywhere in the string
    (``base_model=`` contains ``model=``), up to the next comma.

    >>> model_name_from_args("pretrained=Qwen/Qwen2-VL-2B-Instruct,max_pixels=1024")
    'Qwen/Qwen2-VL-2B-Instruct'
    """
    for key in MODEL_NAME_KEYS:
        if f"{key}=" in model_args:
            return model_args.split(f"{key}=")[1].split(",")[0]
    return ""


def sanitize_model_name(model_name: str) -> str:
    """lmms-eval's folder name for a model: its last two path parts, unsafe runs -> ``__``.

    >>> sanitize_model_name("Qwen/Qwen2-VL-7B"), sanitize_model_name("/data/org/x")
    ('Qwen__Qwen2-VL-7B', 'org__x')
    """
    return _UNSAFE_IN_NAMES.sub("__", "/".join(model_name.split("/")[-2:]))


def results_folder(model_args: Mapping[str, Any] | None) -> str:
    """The sub-folder of output_dir (and ``result`` key) lmms-eval files a run under.

    "" means none: the files land directly in output_dir, where the server does not look.

    >>> results_folder({"pretrained": "Qwen/Qwen2-VL-2B-Instruct"})
    'Qwen__Qwen2-VL-2B-Instruct'
    """
    return sanitize_model_name(model_name_from_args(model_args_string(model_args)))
