from __future__ import annotations

from typing import Any

from pydantic import Field

from ..types import ApiModel


class ValidationError(ApiModel):
    """ValidationError

    Attributes:
        loc:
        msg:
        type_:
        input_:
        ctx:
    """

    loc: list[str | int]
    msg: str
    type_: str = Field(alias="type")
    input_: Any | None = Field(default=None, alias="input")
    ctx: dict[str, Any] | None = Field(default=None)
