from __future__ import annotations

from pydantic import Field

from ..models.merge_request_checkpoint_type import MergeRequestCheckpointType
from ..types import ApiModel


class MergeRequest(ApiModel):
    """MergeRequest

    Request model for merging FSDP2 sharded checkpoints.

    Attributes:
        checkpoint_path: Path to sharded checkpoint directory, on the server's disk.
        output_path: Output path for merged checkpoint, on the server's disk; null lets
            lmms_engine's merger choose.
        checkpoint_type: Type of checkpoint to merge: 'regular' for main model weights, 'ema'
            for EMA weights
    """

    checkpoint_path: str = Field(
        description="Path to sharded checkpoint directory, on the server's disk."
    )
    output_path: str | None = Field(
        default=None,
        description=(
            "Output path for merged checkpoint, on the server's disk; null lets lmms_engine's "
            "merger choose."
        ),
    )
    checkpoint_type: MergeRequestCheckpointType = Field(
        default=MergeRequestCheckpointType.REGULAR,
        description=(
            "Type of checkpoint to merge: 'regular' for main model weights, 'ema' for EMA weights"
        ),
    )
