"""Fixtures of the HTTP-core tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def closing() -> Iterator[Callable[[Any], Any]]:
    """``keep(thing)``: ``thing``, closed at teardown (the last kept first)."""
    made: list[Any] = []

    def keep(thing: Any) -> Any:
        made.append(thing)
        return thing

    yield keep
    for thing in reversed(made):
        thing.close()
