from __future__ import annotations

from ..types import ApiModel


class ModelResultFiles(ApiModel):
    """ModelResultFiles

    The files one evaluation wrote for one model, as paths on the server's disk.

    Attributes:
        results: Path of `<timestamp>_results.json`.
        samples: Paths of `<timestamp>_samples_<task>.jsonl` (empty without log_samples).
    """

    results: str | None
    samples: list[str]
