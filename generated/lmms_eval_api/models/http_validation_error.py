from __future__ import annotations

from pydantic import Field

from ..models.validation_error import ValidationError
from ..types import ApiModel


class HTTPValidationError(ApiModel):
    """HTTPValidationError

    The body FastAPI sends when a request does not match its schema (status 422).

    Attributes:
        detail: One entry per invalid or missing value.
    """

    detail: list[ValidationError] | None = Field(
        default=None, description="One entry per invalid or missing value."
    )
