from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class MergeResponse(ApiModel):
    """MergeResponse

    Response model for checkpoint merge operations.

    Attributes:
        success: Whether the merge operation succeeded (a failed merge is an error status
            instead).
        message: Detailed message about the merge operation (`Checkpoint merged successfully`).
        merged_path: Path to the merged checkpoint if successful, on the server's disk.
    """

    success: bool = Field(
        description=(
            "Whether the merge operation succeeded (a failed merge is an error status instead)."
        )
    )
    message: str = Field(
        description="Detailed message about the merge operation (`Checkpoint merged successfully`)."
    )
    merged_path: str | None = Field(
        default=None,
        description="Path to the merged checkpoint if successful, on the server's disk.",
    )
