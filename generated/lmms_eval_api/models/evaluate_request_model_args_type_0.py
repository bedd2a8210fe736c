from __future__ import annotations

from typing import Any

from pydantic import RootModel


class EvaluateRequestModelArgsType0(RootModel[dict[str, Any]]):
    """EvaluateRequestModelArgsType0: an object whose keys are free-form."""
