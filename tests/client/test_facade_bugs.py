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


@pytest.mark.parametrize(
    "argument",
    [
        {"model": "qwen2_vl\x00"},
        {"tasks": ["mme\x00"]},
        {"model_args": {"pretrained": "org/model\x00"}},
        {"model_args": {"pretrained\x00": "org/model"}},
        {"gen_kwargs": "temperature=0\x00"},
        {"output_dir": "/tmp/out\x00"},
        {"extra_body": {"new_field": ["\x00"]}},
        {"batch_size": "auto\x00"},
    ],
    ids=[
        "model",
        "task",
        "model_args",
        "model_args-key",
        "gen_kwargs",
        "output_dir",
        "extra",
        "batch_size",
    ],
)
async def test_a_nul_character_is_refused_before_sending(
    server: Server, connect: Callable[..., Any], argument: dict[str, Any]
) -> None:
    # Before: sent; a PostgreSQL ledger holding such a request could not be polled again
    # once the job was lost ("\u0000 cannot be converted to text").
    client = connect(server.url)
    request: dict[str, Any] = {"model": MODEL, "tasks": TASKS, **argument}
    with pytest.raises(InvalidArgumentError, match="NUL"):
        await resolve(client.evaluate(**request))
    queue = await resolve(client.get_queue_status())
    assert (queue.queue_size, queue.running_job, queue.completed_jobs) == (0, None, 0)


def test_a_backslash_u0000_text_is_no_nul() -> None:
    from lmms_eval_client._client.json_args import json_object

    assert json_object("model_args", {"a": "x\\u0000"}) == {"a": "x\\u0000"}
