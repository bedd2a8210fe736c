"""Closing: the context manager whose ``with`` block ends with ``close()``.

One definition of ``__enter__``/``__exit__`` for the objects that are used as
``with Thing(...) as thing:`` and release what they hold in ``close()`` (a tracker sink,
the watcher's waker, a CLI view).
"""

from __future__ import annotations

from types import TracebackType

from typing_extensions import Self


class Closing:
    """A context manager: ``with`` gives the object itself and calls ``close()`` at the end.

    Subclasses override ``close()`` (here it does nothing); an exception raised in the
    block is not suppressed.

    Example:
        >>> class Resource(Closing):
        ...     def close(self) -> None:
        ...         print("closed")
        >>> with Resource() as resource:
        ...     print(type(resource).__name__)
        Resource
        closed
    """

    def close(self) -> None:
        """Release what the object holds (nothing here)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
