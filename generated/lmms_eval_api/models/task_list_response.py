from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class TaskListResponse(ApiModel):
    """TaskListResponse

    Available evaluation tasks, or an empty list and the reason in `error`.

    Attributes:
        tasks:
        error:
    """

    tasks: list[str]
    error: str | None = Field(default=None)
