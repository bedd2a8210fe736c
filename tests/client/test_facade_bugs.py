"""Facade bugs the integration suite found, kept as regression tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import InvalidArgumentError, LmmsEvalError

from ..support import MINIMAL_REQUESTS
from .conftest import MODEL, TASKS, Server, resolve

pytestmark = MINIMAL_REQUESTS

# A file name that is not valid UTF-8, as os.listdir() / Path.iterdir() return it on
# POSIX (surrogateescape): b"results-\xff" -> "results-\udcff".
UNDECODABLE_DIR = Path("/tmp/results-\udcff")


async def test_unencodable_str_is_an_invalid_argument(
    server: Server, connect: Callable[..., Any]
) -> None:
    client = connect(server.url)
    with pytest.raises(InvalidArgumentError) as refused:
        await resolve(client.evaluate(model=MODEL, tasks=TASKS, output_dir=UNDECODABLE_DIR))
    assert isinstance(refused.value, LmmsEvalError)
