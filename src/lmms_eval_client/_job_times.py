"""A job's times as its server wrote them: how long it ran, where the command line and the
report show it, and how a number of seconds is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo


def run_seconds(job: JobInfo) -> float | None:
    """Seconds from ``started_at`` to ``completed_at``; None unless both are timestamps that
    can be compared (one with a UTC offset and one without cannot: the server's data, not a
    reason to fail the command or the page that shows it).

    Example::

        seconds = run_seconds(client.get_job(job_id))  # None while it runs
    """
    start, end = job.started_at_datetime, job.completed_at_datetime
    if start is None or end is None or (start.tzinfo is None) != (end.tzinfo is None):
        return None
    return (end - start).total_seconds()


def format_seconds(seconds: float) -> str:
    """``4.2s``, ``3m05s``, ``1h02m``.

    >>> format_seconds(4.23), format_seconds(185), format_seconds(3720)
    ('4.2s', '3m05s', '1h02m')
    """
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
