"""How a wait looks: a live table in a terminal, or one line per change for logs.

``LiveView`` redraws a table (job, status, queue position, elapsed, detail) a few times a
second, so the elapsed time ticks between polls; its last frame stays on the screen.
``LineView`` (``--quiet``, or whenever the output is not a terminal) prints one
timestamped line each time a job's status or queue position changes, and once when it
ends: what CI logs and Slurm output files want.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from typing_extensions import Self

from .._closing import Closing
from .._job_times import format_seconds as format_seconds  # (where status gets it)
from .terminal import for_terminal
from .watch import Outcome, Tracked

if TYPE_CHECKING:  # rich is imported by the views that draw: `status` draws none
    from rich.console import Console, RenderableType

_STYLES = {
    "queued": "yellow",
    "running": "cyan",
    Outcome.COMPLETED.value: "green",
    Outcome.FAILED.value: "red",
    Outcome.CANCELLED.value: "magenta",
    Outcome.TIMEOUT.value: "yellow",
    Outcome.NOT_FOUND.value: "red",
}


class _View(Closing):
    """A view is a context manager: ``__enter__`` starts it, ``__exit__`` closes it."""

    def _start(self) -> None:
        """Begin showing (a LineView has nothing to begin)."""

    def close(self) -> None:
        """End showing, leaving what was shown."""

    def __enter__(self) -> Self:
        self._start()
        return self


class LiveView(_View):
    """A live table of the jobs being waited for (a terminal only).

    Example::

        with LiveView(tracked, server="http://127.0.0.1:8000", console=Console()) as view:
            watch(client, tracked, view, poll_interval=2, timeout=None)
    """

    def __init__(
        self,
        tracked: Sequence[Tracked],
        *,
        server: str,
        console: Console,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tracked = tracked
        self._server = server
        self._clock = clock
        from rich.live import Live

        self._live = Live(
            console=console, refresh_per_second=4, transient=False, get_renderable=self.render
        )

    def render(self) -> RenderableType:
        """The current frame: a heading and one row per job."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        now = self._clock()
        pending = sum(1 for t in self._tracked if t.outcome is None)
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("JOB", "STATUS", "QUEUE", "ELAPSED", "DETAIL"):
            table.add_column(column, no_wrap=column != "DETAIL", overflow="ellipsis")
        for job in self._tracked:
            position = job.position
            table.add_row(
                for_terminal(job.job_id),
                Text(for_terminal(job.status), style=_STYLES.get(job.status, "")),
                "" if position is None else str(position),
                format_seconds(job.elapsed(now)),
                Text(for_terminal(job.detail), style="dim", no_wrap=True, overflow="ellipsis"),
            )
        if pending:
            heading = (
                f"Waiting for {pending} of {len(self._tracked)} job(s) on {self._server}"
                " (Ctrl+C stops waiting; the jobs go on)"
            )
        else:
            heading = f"Done: {len(self._tracked)} job(s) on {self._server}"
        return Group(Text(heading, style="bold"), table)

    def changed(self, tracked: Tracked) -> None:
        self._live.refresh()

    def setback(self, tracked: Tracked) -> None:
        self._live.refresh()

    def _start(self) -> None:
        self._live.start(refresh=True)

    def close(self) -> None:
        self._live.stop()  # draws the last frame once more and leaves it on the screen


class LineView(_View):
    """One line per change: ``12:03:04 <job id> running``.

    Example::

        with LineView(sys.stdout) as view:
            watch(client, tracked, view, poll_interval=2, timeout=None)
    """

    def __init__(
        self, stream: TextIO | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream
        self._clock = clock

    def _print(self, tracked: Tracked, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        stream = self._stream or sys.stdout
        print(for_terminal(f"{stamp} {tracked.job_id} {text}"), file=stream, flush=True)

    def changed(self, tracked: Tracked) -> None:
        text = tracked.status
        position = tracked.position
        if position is not None:
            text += f" (position {position})"
        if tracked.outcome is not None:
            text += f" after {format_seconds(tracked.elapsed(self._clock()))}"
        if tracked.detail:
            text += f": {tracked.detail}"
        self._print(tracked, text)

    def setback(self, tracked: Tracked) -> None:
        self._print(tracked, tracked.detail)


def make_view(
    tracked: Sequence[Tracked], *, server: str, quiet: bool, to_stderr: bool
) -> LiveView | LineView:
    """The live table when the stream is a terminal and ``--quiet`` was not given, else lines.

    ``to_stderr``: progress of a ``--json`` command, whose stdout is the JSON alone.
    """
    from rich.console import Console

    stream = sys.stderr if to_stderr else sys.stdout
    console = Console(file=stream, highlight=False, markup=False)
    if quiet or not console.is_terminal:
        return LineView(stream)
    return LiveView(tracked, server=server, console=console)
