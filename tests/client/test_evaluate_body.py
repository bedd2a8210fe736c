"""The exact JSON body evaluate() sends: what was given, and nothing the caller left None."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from ..support import MINIMAL_REQUESTS, SUBMIT_JSON, Caller

pytestmark = MINIMAL_REQUESTS

DEFAULTS = {"log_samples": True, "predict_only": False, "num_gpus": 1}

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("defaults", {}, {"model": "m", "tasks": ["t"], **DEFAULTS}),
    (
        "explicit-nones-left-out",
        {
            "model_args": None,
            "num_fewshot": None,
            "batch_size": None,
            "device": None,
            "limit": None,
            "gen_kwargs": None,
            "output_dir": None,
        },
        {"model": "m", "tasks": ["t"], **DEFAULTS},
    ),
    (
        "model_args-float-limit-auto-batch-str-task",
        {
            "tasks": "t",
            "model_args": {"pretrained": "Qwen/Qwen2-VL-7B-Instruct", "max_pixels": 1024},
            "limit": 0.25,
            "batch_size": "auto",
        },
        {
            "model": "m",
            "tasks": ["t"],
            "model_args": {"pretrained": "Qwen/Qwen2-VL-7B-Instruct", "max_pixels": 1024},
            "limit": 0.25,
            "batch_size": "auto",
            **DEFAULTS,
        },
    ),
    (
        "falsy-values-still-sent",
        {"num_fewshot": 0, "log_samples": False, "model_args": {}, "device": ""},
        {
            "model": "m",
            "tasks": ["t"],
            "num_fewshot": 0,
            "model_args": {},
            "device": "",
            "log_samples": False,
            "predict_only": False,
            "num_gpus": 1,
        },
    ),
    (
        "defaults-given-as-none-are-not-sent",
        {"log_samples": None, "predict_only": None, "num_gpus": None},
        {"model": "m", "tasks": ["t"]},
    ),
    (
        "everything",
        {
            "tasks": ("a", "b"),
            "num_fewshot": 5,
            "batch_size": 8,
            "device": "cuda:0",
            "limit": 10,
            "gen_kwargs": "temperature=0,max_new_tokens=64",
            "log_samples": False,
            "predict_only": True,
            "num_gpus": 4,
            "output_dir": "/results",
        },
        {
            "model": "m",
            "tasks": ["a", "b"],
            "num_fewshot": 5,
            "batch_size": 8,
            "device": "cuda:0",
            "limit": 10,
            "gen_kwargs": "temperature=0,max_new_tokens=64",
            "log_samples": False,
            "predict_only": True,
            "num_gpus": 4,
            "output_dir": "/results",
        },
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_evaluate_body(
    caller: Caller, mock: respx.MockRouter, kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    route = mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    kwargs = {"tasks": ["t"], **kwargs}
    await caller.evaluate("m", **kwargs)
    assert route.call_count == 1
    sent = json.loads(route.calls.last.request.content)
    assert sent == expected
    # == alone would let 10 pass as 10.0 or "8" as 8
    assert {k: type(v) for k, v in sent.items()} == {k: type(v) for k, v in expected.items()}


async def test_evaluate_positional_arguments_keep_lmms_eval_order(
    caller: Caller, mock: respx.MockRouter
) -> None:
    route = mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    await caller.evaluate("m", ["t"], {"k": "v"}, 2, 4, "cpu", 3, "g", False, True, 2, "/o")
    assert json.loads(route.calls.last.request.content) == {
        "model": "m",
        "tasks": ["t"],
        "model_args": {"k": "v"},
        "num_fewshot": 2,
        "batch_size": 4,
        "device": "cpu",
        "limit": 3,
        "gen_kwargs": "g",
        "log_samples": False,
        "predict_only": True,
        "num_gpus": 2,
        "output_dir": "/o",
    }


async def test_evaluate_rejects_unknown_keyword(caller: Caller, mock: respx.MockRouter) -> None:
    # lmms-eval's async client sent a typo such as num_fewshots= and the server dropped it
    with pytest.raises(TypeError):
        await caller.evaluate("m", ["t"], num_fewshots=5)
    assert mock.calls.call_count == 0


async def test_evaluate_does_not_mutate_arguments(caller: Caller, mock: respx.MockRouter) -> None:
    mock.post("/evaluate").respond(200, json=SUBMIT_JSON)
    tasks = ["a"]
    model_args = {"pretrained": "x"}
    await caller.evaluate("m", tasks, model_args=model_args)
    assert tasks == ["a"]
    assert model_args == {"pretrained": "x"}
