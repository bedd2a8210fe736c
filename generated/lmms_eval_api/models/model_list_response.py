from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class ModelListResponse(ApiModel):
    """ModelListResponse

    Available model types, or an empty list and the reason in `error`.

    Attributes:
        models:
        error:
    """

    models: list[str]
    error: str | None = Field(default=None)
