"""Task names, batch sizes and output folders no server can use are refused before anything
is sent (InvalidArgumentError), in evaluate() and all that builds on it.

An adversarial test found each sent as given:

* ``tasks=["mme,,mme"]`` (lmms-eval joins the tasks with commas and splits them again): an
  empty task name, which the real server reports as "Tasks not found: " after starting the
  job, and a task given twice;
* ``batch_size=0`` (the server drops a 0 in silence: batch size 1) and ``batch_size=-3``
  (or ``"-3"``, ``"auto:0"``): lmms-eval takes ``N``, ``auto`` or ``auto:N``, N >= 1;
* a relative ``output_dir``: a folder on the server's disk, which the server resolves
  against its own working folder while this client would read the job's files relative to
  its own.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import respx

from lmms_eval_client import EvalClient, InvalidArgumentError

from ..support import MINIMAL_REQUESTS, SUBMIT_JSON, Caller

pytestmark = MINIMAL_REQUESTS

REFUSED = [
    ("tasks-empty-name-inside", {"tasks": ["mme,,mme"]}, "empty task name"),
    ("tasks-empty-name-at-end", {"tasks": ["mme,"]}, "empty task name"),
    ("tasks-empty-name-of-two", {"tasks": ["mme", " ,ai2d"]}, "empty task name"),
    ("tasks-twice", {"tasks": ["mme", "mme"]}, "'mme' is given twice"),
    ("tasks-twice-in-one", {"tasks": "mme,ai2d,mme"}, "'mme' is given twice"),
    ("tasks-twice-across", {"tasks": ["mme,ai2d", " ai2d"]}, "'ai2d' is given twice"),
    ("batch_size-0", {"batch_size": 0}, "batch_size must be at least 1"),
    ("batch_size-negative", {"batch_size": -3}, "batch_size must be at least 1"),
    ("batch_size-str-0", {"batch_size": "0"}, "batch_size must be at least 1"),
    ("batch_size-str-negative", {"batch_size": "-3"}, "batch_size must be at least 1"),
    ("batch_size-auto-0", {"batch_size": "auto:0"}, "batch_size must be at least 1"),
    ("output_dir-relative", {"output_dir": "relative/dir"}, "output_dir must be absolute"),
    ("output_dir-dot", {"output_dir": "./out"}, "output_dir must be absolute"),
    ("output_dir-home", {"output_dir": "~/out"}, "output_dir must be absolute"),
    ("output_dir-Path", {"output_dir": pathlib.PurePosixPath("out")}, "must be absolute"),
]


@pytest.mark.parametrize(("kwargs", "says"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
async def test_what_no_server_can_use_is_refused_before_sending(
    caller: Caller, mock: respx.MockRouter, kwargs: dict[str, Any], says: str
) -> None:
    mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    kwargs = {"model": "m", "tasks": ["t"], **kwargs}
    with pytest.raises(InvalidArgumentError) as info:
        await caller.evaluate(**kwargs)
    assert says in str(info.value), str(info.value)
    assert len(str(info.value)) < 300
    assert mock.calls.call_count == 0


ACCEPTED = [
    ({"tasks": ["mme", "mmmu_val"]}, "tasks", ["mme", "mmmu_val"]),
    ({"tasks": "mme,mmmu_val"}, "tasks", ["mme,mmmu_val"]),  # one str: one entry, as before
    ({"tasks": ["mmmu_val*"]}, "tasks", ["mmmu_val*"]),
    ({"batch_size": 1}, "batch_size", 1),
    ({"batch_size": "8"}, "batch_size", "8"),
    ({"batch_size": "auto"}, "batch_size", "auto"),
    ({"batch_size": "auto:4"}, "batch_size", "auto:4"),
    ({"output_dir": "/scratch/evals/run-1"}, "output_dir", "/scratch/evals/run-1"),
    ({"output_dir": "C:\\evals\\run-1"}, "output_dir", "C:\\evals\\run-1"),  # a Windows server
    ({"output_dir": "\\\\share\\evals"}, "output_dir", "\\\\share\\evals"),
]


async def test_what_a_server_can_use_is_still_sent_as_given(
    caller: Caller, mock: respx.MockRouter
) -> None:
    # (one test over every form, so that it fails before the fix: the refusals above)
    route = mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    for kwargs, field, sent in ACCEPTED:
        await caller.evaluate(**{"model": "m", "tasks": ["t"], **kwargs})
        assert json.loads(route.calls.last.request.content)[field] == sent
    for kwargs, _ in [(c[1], c[2]) for c in REFUSED]:
        with pytest.raises(InvalidArgumentError):
            await caller.evaluate(**{"model": "m", "tasks": ["t"], **kwargs})
    assert route.call_count == len(ACCEPTED)


@pytest.mark.parametrize("where", ["argument", "environment"])
def test_a_relative_output_root_is_refused_when_the_client_is_made(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Left by the fix of output_dir: the client's output_root (and $LMMS_EVAL_OUTPUT_ROOT),
    # which each job's output_dir starts with, was still taken relative.
    options: dict[str, Any] = {}
    if where == "argument":
        options["output_root"] = "evals/run-1"
    else:
        monkeypatch.setenv("LMMS_EVAL_OUTPUT_ROOT", "evals/run-1")
    with pytest.raises(InvalidArgumentError, match="must be absolute"):
        EvalClient("http://127.0.0.1:9", **options)  # (nothing is sent)
