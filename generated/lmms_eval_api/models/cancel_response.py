from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class CancelResponse(ApiModel):
    """CancelResponse

    Response when a queued job was cancelled.

    Attributes:
        message: `Job <id> cancelled`.
    """

    message: str = Field(description="`Job <id> cancelled`.")
