from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class ModelResultFiles(ApiModel):
    """ModelResultFiles

    The files one evaluation wrote for one model, as paths on the server's disk.

    Attributes:
        results: Path of `<timestamp>_results.json`.
        samples: Paths of `<timestamp>_samples_<task>.jsonl` (empty without log_samples).
    """

    results: str | None = Field(description="Path of `<timestamp>_results.json`.")
    samples: list[str] = Field(
        description="Paths of `<timestamp>_samples_<task>.jsonl` (empty without log_samples)."
    )
