from __future__ import annotations

from pydantic import RootModel

from ..models.model_result_files import ModelResultFiles


class JobInfoResultType0(RootModel[dict[str, ModelResultFiles]]):
    """JobInfoResultType0: an object whose keys are free-form."""
