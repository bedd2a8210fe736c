from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from ..types import ApiModel

if TYPE_CHECKING:  # resolved at run time by models/__init__.py: no import cycles
    from ..models.validation_error import ValidationError


class HTTPValidationError(ApiModel):
    """HTTPValidationError

    The body FastAPI sends when a request does not match its schema (status 422).

    Attributes:
        detail: One entry per invalid or missing value.
    """

    detail: list[ValidationError] | None = Field(
        default=None, description="One entry per invalid or missing value."
    )
