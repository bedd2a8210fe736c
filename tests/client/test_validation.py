"""Arguments are checked before anything is sent: InvalidArgumentError, zero requests."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import respx

from lmms_eval_client import EvalClient, InvalidArgumentError

from ..support import BASE, MINIMAL_REQUESTS, SUBMIT_JSON, Caller

pytestmark = MINIMAL_REQUESTS

BAD_EVALUATE = [
    ("tasks-empty", {"tasks": []}),
    ("tasks-int", {"tasks": 5}),
    ("tasks-of-int", {"tasks": [1]}),
    ("tasks-none", {"tasks": None}),
    ("tasks-empty-str", {"tasks": ""}),
    ("tasks-with-empty-name", {"tasks": ["a", ""]}),
    ("tasks-set", {"tasks": {"a"}}),
    ("model-empty", {"model": ""}),
    ("model-none", {"model": None}),
    ("model-int", {"model": 5}),
    ("limit-0", {"limit": 0}),
    ("limit-negative", {"limit": -2}),
    ("limit-negative-fraction", {"limit": -0.5}),
    ("limit-huge", {"limit": 10**400}),
    ("limit-nan", {"limit": float("nan")}),
    ("limit-bool", {"limit": True}),
    ("limit-str", {"limit": "five"}),
    # neither a count nor a fraction: lmms-eval cut it to 1 in silence (the runs CLI's try)
    ("limit-fraction-over-1", {"limit": 1.5}),
    ("num_gpus-0", {"num_gpus": 0}),
    ("num_gpus-float", {"num_gpus": 1.5}),
    ("num_gpus-bool", {"num_gpus": True}),
    ("num_fewshot-negative", {"num_fewshot": -1}),
    ("num_fewshot-float", {"num_fewshot": 1.0}),
    ("batch_size-bool", {"batch_size": True}),
    ("batch_size-float", {"batch_size": 1.5}),
    ("log_samples-str", {"log_samples": "yes"}),
    ("predict_only-int", {"predict_only": 1}),
    ("model_args-str", {"model_args": "pretrained=x"}),
    ("model_args-list", {"model_args": [("pretrained", "x")]}),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in BAD_EVALUATE], ids=[c[0] for c in BAD_EVALUATE])
async def test_bad_evaluate_arguments_send_nothing(
    caller: Caller, mock: respx.MockRouter, kwargs: dict[str, Any]
) -> None:
    mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    kwargs = {"model": "m", "tasks": ["t"], **kwargs}
    with pytest.raises(InvalidArgumentError) as info:
        await caller.evaluate(**kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError)
    assert mock.calls.call_count == 0


# (method, option, bad value): each refused before sending, the option named in the message
BAD_TYPED_OPTIONS = [
    pytest.param("evaluate", "gen_kwargs", {"temperature": 0}, id="gen_kwargs-dict"),
    pytest.param("evaluate", "device", 0, id="device-int"),
    pytest.param("evaluate", "output_dir", 5, id="output_dir-int"),
    pytest.param("evaluate", "output_dir", b"/results", id="output_dir-bytes"),
    pytest.param("evaluate", "output_dir", "", id="output_dir-empty"),
    pytest.param("evaluate", "model_args", {1: "a"}, id="model_args-int-key"),
    pytest.param("evaluate", "model_args", {"dtype": object()}, id="model_args-unserializable"),
    pytest.param("evaluate", "model_args", {"scale": float("nan")}, id="model_args-nan"),
    pytest.param("evaluate", "limit", float("inf"), id="limit-inf"),
    pytest.param("merge_checkpoint", "output_path", 5, id="output_path-int"),
    pytest.param("merge_checkpoint", "checkpoint_path", 5, id="checkpoint_path-int"),
]


@pytest.mark.parametrize(("method", "option", "value"), BAD_TYPED_OPTIONS)
async def test_bad_option_types_raise_invalid_argument_before_sending(
    caller: Caller, mock: respx.MockRouter, method: str, option: str, value: Any
) -> None:
    mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    mock.post("/merge").respond(200, json={"success": True, "message": "ok"})
    if method == "evaluate":
        call = caller.evaluate("m", ["t"], **{option: value})
    elif option == "checkpoint_path":
        call = caller.merge_checkpoint(value)
    else:
        call = caller.merge_checkpoint("/ck", **{option: value})
    with pytest.raises(InvalidArgumentError, match=option):
        await call
    assert mock.calls.call_count == 0


@pytest.mark.parametrize("batch_size", ["auto", "auto:4", "8", ""])
async def test_batch_size_strings_are_sent_as_given(
    caller: Caller, mock: respx.MockRouter, batch_size: str
) -> None:
    # lmms-eval parses them ("auto", "auto:N", digits) and treats an empty one as unset.
    mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    await caller.evaluate("m", ["t"], batch_size=batch_size)
    assert json.loads(mock.calls.last.request.content)["batch_size"] == batch_size


class _Path:
    """An os.PathLike that is not a pathlib.Path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


PATHS = [
    pytest.param(pathlib.PurePosixPath("/results/run1"), id="PurePosixPath"),
    pytest.param(pathlib.Path("/results/run1"), id="Path"),
    pytest.param(_Path("/results/run1"), id="PathLike"),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("method", "field"),
    [("evaluate", "output_dir"), ("checkpoint", "checkpoint_path"), ("merge", "output_path")],
)
async def test_path_objects_are_sent_as_their_str(
    caller: Caller, mock: respx.MockRouter, method: str, field: str, path: Any
) -> None:
    mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    mock.post("/merge").respond(200, json={"success": True, "message": "ok"})
    if method == "evaluate":
        await caller.evaluate("m", ["t"], output_dir=path)
    elif method == "checkpoint":
        await caller.merge_checkpoint(path)
    else:
        await caller.merge_checkpoint("/ck", output_path=path)
    assert mock.calls.call_count == 1
    assert json.loads(mock.calls.last.request.content)[field] == "/results/run1"


BAD_MERGE = [
    ("checkpoint_path-empty", ("",), {}),
    ("checkpoint_path-none", (None,), {}),
    ("checkpoint_type-bad", ("/ck",), {"checkpoint_type": "fp16"}),
]


@pytest.mark.parametrize(
    ("args", "kwargs"), [c[1:] for c in BAD_MERGE], ids=[c[0] for c in BAD_MERGE]
)
async def test_bad_merge_arguments_send_nothing(
    caller: Caller, mock: respx.MockRouter, args: tuple, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgumentError):
        await caller.merge_checkpoint(*args, **kwargs)
    assert mock.calls.call_count == 0


@pytest.mark.parametrize("method", ["get_job", "cancel_job", "wait_for_job"])
async def test_empty_job_id_sends_nothing(
    caller: Caller, mock: respx.MockRouter, method: str
) -> None:
    with pytest.raises(InvalidArgumentError, match="job_id"):
        await getattr(caller, method)("")
    assert mock.calls.call_count == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": 0}, {"timeout": -1}, {"timeout": "60"}, {"base_url": 8000}],
    ids=repr,
)
def test_bad_constructor_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        EvalClient(**{"base_url": BASE, **kwargs})


@pytest.mark.parametrize("timeout", [None, 5, 2.5], ids=repr)
def test_good_timeouts(timeout: Any) -> None:
    with EvalClient(BASE, timeout) as client:
        assert client._http.timeout.read == timeout
