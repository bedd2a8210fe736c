from __future__ import annotations

from ..types import ApiModel


class HealthResponse(ApiModel):
    """HealthResponse

    Health check response.

    Attributes:
        status:
        timestamp:
        queue_size:
    """

    status: str
    timestamp: str
    queue_size: int
