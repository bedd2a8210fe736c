"""lmms-eval's naming rules: model_args as it sees them, the model name, the results folder.

The real server files a job's results under ``<output_dir>/<model name>/`` and reports that
folder's name as the ``result`` key, so these rules decide where a client finds results.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._config import SIM_KEYS

# lmms-eval's GeneralConfigTracker looks for these, in this order, as substrings of the
# comma-joined model_args string; the first found names the model (peft/delta come with
# pretrained, so they win).
_MODEL_NAME_KEYS = (
    "peft=",
    "delta=",
    "pretrained=",
    "model=",
    "model_version=",
    "model_name=",
    "model_id=",
    "path=",
    "engine=",
)
_UNSAFE_IN_NAMES = re.compile(r"[\"<>:/\|\\?\*\[\]]+")
# lmms-eval masks secret-looking model_args in the results' config: key=value pairs whose
# key ends in api_key/token/secret/password, and Hugging Face tokens anywhere.
_SECRET_PAIR = re.compile(r"(?i)(^|[,\s])(\w*(?:api_key|token|secret|password))=([^,\s]+)")
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")


def model_args_string(model_args: Mapping[str, Any] | None) -> str:
    """model_args as the server passes them to lmms-eval: ``k=v`` joined by commas.

    The local server's own ``sim_*`` keys are left out.
    """
    if not model_args:
        return ""
    return ",".join(f"{key}={value}" for key, value in model_args.items() if key not in SIM_KEYS)


def redact_secrets(text: str) -> str:
    """``text`` with secret-looking ``key=value`` values and HF tokens as ``[REDACTED]``."""
    return _HF_TOKEN.sub("[REDACTED]", _SECRET_PAIR.sub(r"\1\2=[REDACTED]", text))


def model_name_from_args(model_args: str) -> str:
    """The model name lmms-eval reads from a model_args string ("" when none is found).

    As lmms-eval: the first of ``peft=``, ``delta=``, ``pretrained=``, ``model=``,
    ``model_version=``, ``model_name=``, ``model_id=``, ``path=``, ``engine=`` that occurs
    anywhere in the string (``base_model=`` contains ``model=``), up to the next comma.

    >>> model_name_from_args("pretrained=Qwen/Qwen2-VL-2B-Instruct,max_pixels=1024")
    'Qwen/Qwen2-VL-2B-Instruct'
    """
    for key in _MODEL_NAME_KEYS:
        if key in model_args:
            return model_args.split(key)[1].split(",")[0]
    return ""


def sanitize_model_name(model_name: str) -> str:
    """lmms-eval's folder name for a model: its last two path parts, unsafe runs -> ``__``.

    >>> sanitize_model_name("Qwen/Qwen2-VL-7B"), sanitize_model_name("/data/org/x")
    ('Qwen__Qwen2-VL-7B', 'org__x')
    """
    parts = model_name.split("/")
    last_two = "/".join(parts[-2:]) if len(parts) > 1 else parts[-1]
    return _UNSAFE_IN_NAMES.sub("__", last_two)


def results_folder(model_args: Mapping[str, Any] | None) -> str:
    """The sub-folder of output_dir (and ``result`` key) lmms-eval files a run under.

    "" means none: the files land directly in output_dir, where the server does not look.

    >>> results_folder({"pretrained": "Qwen/Qwen2-VL-2B-Instruct"})
    'Qwen__Qwen2-VL-2B-Instruct'
    """
    return sanitize_model_name(model_name_from_args(model_args_string(model_args)))
