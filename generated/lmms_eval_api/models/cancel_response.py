from __future__ import annotations

from ..types import ApiModel


class CancelResponse(ApiModel):
    """CancelResponse

    Response when a queued job was cancelled.

    Attributes:
        message:
    """

    message: str
