from __future__ import annotations

from pydantic import Field

from ..types import ApiModel


class TaskListResponse(ApiModel):
    """TaskListResponse

    Available evaluation tasks, or an empty list and the reason in `error`.

    Attributes:
        tasks: Every task and group name the server can run (about 2,000 in 0.7.3); empty when
            indexing failed. Built anew on each call, which takes seconds and blocks the server.
        error: Why the tasks could not be indexed (e.g. `No module named 'yaml'`); absent on
            success.
    """

    tasks: list[str] = Field(
        description=(
            "Every task and group name the server can run (about 2,000 in 0.7.3); empty when "
            "indexing failed. Built anew on each call, which takes seconds and blocks the "
            "server."
        )
    )
    error: str | None = Field(
        default=None,
        description=(
            "Why the tasks could not be indexed (e.g. `No module named 'yaml'`); absent on success."
        ),
    )
