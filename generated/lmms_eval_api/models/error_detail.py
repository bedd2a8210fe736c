from __future__ import annotations

from ..types import ApiModel


class ErrorDetail(ApiModel):
    """ErrorDetail

    The body FastAPI sends for an HTTPException: {"detail": "<reason>"}.

    Attributes:
        detail:
    """

    detail: str
