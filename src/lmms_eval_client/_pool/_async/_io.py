"""What only the async pool does differently: asking its servers at once, in tasks.

Its sync twin, ``_sync/_io.py`` (also hand-written), asks them at once in threads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def gather(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the calls concurrently; their results, in order (the first error is raised)."""
    if len(calls) == 1:
        return [await calls[0]()]
    import anyio  # on first use, as _io.sleep: it pulls in asyncio

    results: dict[int, T] = {}
    errors: list[Exception] = []

    async def run(index: int, call: Callable[[], Awaitable[T]]) -> None:
        try:
            results[index] = await call()
        except Exception as exc:  # raised below, not as an ExceptionGroup
            errors.append(exc)

    async with anyio.create_task_group() as group:
        for index, call in enumerate(calls):
            group.start_soon(run, index, call)
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(calls))]
