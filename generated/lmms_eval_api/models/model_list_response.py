from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class ModelListResponse(ApiModel):
    """ModelListResponse

    Available model types, or an empty list and the reason in `error`.

    Attributes:
        models: Every model type the server can load (about 120 in 0.7.3), the values `model`
            accepts.
        error: Why the models could not be listed; absent on success.
    """

    models: list[str] = Field(
        description=(
            "Every model type the server can load (about 120 in 0.7.3), the values `model` accepts."
        )
    )
    error: str | None = Field(
        default=None, description="Why the models could not be listed; absent on success."
    )
