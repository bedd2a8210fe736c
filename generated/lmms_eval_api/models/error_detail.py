from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class ErrorDetail(ApiModel):
    """ErrorDetail

    The body FastAPI sends for an HTTPException: {"detail": "<reason>"}.

    Attributes:
        detail: The server's reason, e.g. `Job <id> not found` or `Cannot cancel a running job`.
    """

    detail: str = Field(
        description="The server's reason, e.g. `Job <id> not found` or `Cannot cancel a running job`."
    )
