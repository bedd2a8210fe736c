from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class MergeResponse(ApiModel):
    """MergeResponse

    Response model for checkpoint merge operations.

    Attributes:
        success: Whether the merge operation succeeded
        message: Detailed message about the merge operation
        merged_path: Path to the merged checkpoint if successful
    """

    success: bool
    message: str
    merged_path: str | None = Field(default=None)
