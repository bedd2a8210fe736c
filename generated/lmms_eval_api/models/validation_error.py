from __future__ import annotations

from typing import Any

from pydantic import Field

from ..types import ApiModel


class ValidationError(ApiModel):
    """ValidationError

    One value of a request that failed the server's validation.

    Attributes:
        loc: Where the value is, e.g. `["body", "tasks"]`.
        msg: What is wrong, e.g. `Field required` or `Input should be a valid list`.
        type_: Pydantic's error type, e.g. `missing`, `list_type`, `literal_error`.
        input_: The value the server received (absent for a missing one).
        ctx: Details of the error, e.g. the expected values of a literal.
    """

    loc: list[str | int] = Field(description='Where the value is, e.g. `["body", "tasks"]`.')
    msg: str = Field(
        description="What is wrong, e.g. `Field required` or `Input should be a valid list`."
    )
    type_: str = Field(
        alias="type",
        description="Pydantic's error type, e.g. `missing`, `list_type`, `literal_error`.",
    )
    input_: Any | None = Field(
        default=None,
        alias="input",
        description="The value the server received (absent for a missing one).",
    )
    ctx: dict[str, Any] | None = Field(
        default=None, description="Details of the error, e.g. the expected values of a literal."
    )
