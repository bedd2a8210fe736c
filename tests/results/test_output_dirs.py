"""Output directories chosen by the client: readable, unique, under the root."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from lmms_eval_client import OUTPUT_ROOT_ENV, InvalidArgumentError, output_dir_for
from lmms_eval_client._results.output_dirs import model_label

NOW = datetime(2026, 12, 2, 5, 52, 37)


def test_layout() -> None:
    path = output_dir_for(
        "/scratch/evals",
        "qwen2_vl",
        {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"},
        now=NOW,
        token="1a2b3c4d",
    )
    assert path == "/scratch/evals/20261202-055237-Qwen__Qwen2-VL-2B-Instruct-1a2b3c4d"


def test_default_token_is_unique_and_short() -> None:
    paths = {output_dir_for("/r", "m", now=NOW) for _ in range(200)}
    assert len(paths) == 200
    for path in paths:
        assert re.fullmatch(r"/r/20261202-055237-m-[0-9a-f]{8}", path)


def test_default_time_is_now() -> None:
    before = datetime.now().replace(microsecond=0)
    stamp = output_dir_for("/r", "m", token="t").split("/")[-1][:15]
    after = datetime.now()
    assert before <= datetime.strptime(stamp, "%Y%m%d-%H%M%S") <= after


@pytest.mark.parametrize(
    ("root", "expected"),
    [("/r/", "/r/"), ("/", "/"), ("relative/dir", "relative/dir/"), ("s3://b/x", "s3://b/x/")],
)
def test_root_joins(root: str, expected: str) -> None:
    assert output_dir_for(root, "m", now=NOW, token="t") == f"{expected}20261202-055237-m-t"


@pytest.mark.parametrize(
    ("model", "model_args", "label"),
    [
        ("openai", {"model": "stub-model", "api_key": "sk-x"}, "stub-model"),
        ("openai", "model=gpt-4o,base_url=http://h/v1", "gpt-4o"),
        ("llava", {"pretrained": "a/b/c/d"}, "c__d"),
        ("llava", {"pretrained": "base", "peft": "me/adapter"}, "me__adapter"),
        ("qwen2_vl", None, "qwen2_vl"),
        ("qwen2_vl", {"device": "cuda"}, "qwen2_vl"),
        ("m", {"pretrained": "../../etc/passwd"}, "etc__passwd"),
        ("m", {"pretrained": "we ird:name*?"}, "we-ird-name"),
        ("...", None, "model"),
        ("m", {"pretrained": "x" * 500}, "x" * 60),
    ],
)
def test_model_label(model: str, model_args: object, label: str) -> None:
    assert model_label(model, model_args) == label  # type: ignore[arg-type]
    name = output_dir_for("/r", model, model_args, now=NOW, token="t")  # type: ignore[arg-type]
    assert name == f"/r/20261202-055237-{label}-t"
    assert "/" not in name.removeprefix("/r/")  # always one folder under the root


def test_no_secret_in_the_name() -> None:
    path = output_dir_for("/r", "openai", {"model": "m", "api_key": "sk-secret"}, now=NOW)
    assert "sk-secret" not in path


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"root": ""}, "output root"),
        ({"root": "   "}, "output root"),
        ({"root": 3}, "output root"),
        ({"token": "has/slash"}, "token"),
        ({"token": ""}, "token"),
    ],
)
def test_rejects(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"root": "/r", "model": "m", **kwargs}
    with pytest.raises(InvalidArgumentError, match=match):
        output_dir_for(args.pop("root"), args.pop("model"), **args)  # type: ignore[arg-type]


def test_env_name() -> None:
    assert OUTPUT_ROOT_ENV == "LMMS_EVAL_OUTPUT_ROOT"
