"""Closing and AsyncClosing: the context managers whose ``with`` block ends with ``close()``.

One definition of ``__enter__``/``__exit__`` for the objects that are used as
``with Thing(...) as thing:`` and release what they hold in ``close()`` (the clients, the
pool and the run, through their ``_async/`` sources and generated ``_sync/`` twins; a
tracker sink, the watcher's waker, a CLI view), and of ``__aenter__``/``__aexit__`` for
their async twins (``async with``, ``await close()``).
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: an import of the clients loads nothing more
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
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClosing:
    """An async context manager: ``async with`` gives the object itself and awaits
    ``close()`` at the end (the async twin of :class:`Closing`, which codegen/make_sync.py
    puts in the generated sync classes).

    Example:
        >>> import asyncio
        >>> class Resource(AsyncClosing):
        ...     async def close(self) -> None:
        ...         print("closed")
        >>> async def main() -> None:
        ...     async with Resource() as resource:
        ...         print(type(resource).__name__)
        >>> asyncio.run(main())
        Resource
        closed
    """

    async def close(self) -> None:
        """Release what the object holds (nothing here)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()
