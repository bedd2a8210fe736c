"""lmms-eval's naming rules as the local server applies them: model_args as lmms-eval sees
them (without the server's own ``sim_*`` keys), the results folder (the rules themselves:
``_results/naming.py``), and the secrets lmms-eval masks in a results file's config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._results import naming
from ._config import SIM_KEYS

# lmms-eval masks secret-looking model_args in the results' config: key=value pairs whose
# key ends in api_key/token/secret/password, and Hugging Face tokens anywhere.
_SECRET_PAIR = re.compile(r"(?i)(^|[,\s])(\w*(?:api_key|token|secret|password))=([^,\s]+)")
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")


def _as_lmms_eval_sees(model_args: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (model_args or {}).items() if key not in SIM_KEYS}


def model_args_string(model_args: Mapping[str, Any] | None) -> str:
    """model_args as the server passes them to lmms-eval: ``k=v`` joined by commas, the
    local server's own ``sim_*`` keys left out."""
    return naming.model_args_string(_as_lmms_eval_sees(model_args))


def redact_secrets(text: str) -> str:
    """``text`` with secret-looking ``key=value`` values and HF tokens as ``[REDACTED]``."""
    return _HF_TOKEN.sub("[REDACTED]", _SECRET_PAIR.sub(r"\1\2=[REDACTED]", text))


def results_folder(model_args: Mapping[str, Any] | None) -> str:
    """The sub-folder of output_dir (and ``result`` key) lmms-eval files a run under ("":
    none, the files land in output_dir, where the server does not look); ``sim_*`` left out.

    >>> results_folder({"pretrained": "Qwen/Qwen2-VL-2B-Instruct", "sim_duration": 1})
    'Qwen__Qwen2-VL-2B-Instruct'
    """
    return naming.results_folder(_as_lmms_eval_sees(model_args))
