"""A module imported on its first use: what the client needs only once it sends.

``from lmms_eval_client import EvalClient`` should cost little more than importing httpx
and pydantic. The generated endpoint functions import the generated models, and those
pydantic's model machinery, which costs more than httpx itself: they are loaded with the
first request instead. ``_http/endpoints.py`` writes::

    if TYPE_CHECKING:
        from lmms_eval_api.api.jobs import get_job
    else:
        get_job = LazyModule("lmms_eval_api.api.jobs.get_job")

so that type checkers see the module itself.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name``, imported when one of its attributes is first read."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
