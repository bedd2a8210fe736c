"""``--model-args`` and the other command-line values, read as lmms-eval reads them."""

from __future__ import annotations

import pytest

from lmms_eval_client import InvalidArgumentError
from lmms_eval_client.cli.model_args import (
    parse_batch_size,
    parse_extra_body,
    parse_labels,
    parse_limit,
    parse_model_args,
    parse_tasks,
    split_outside_brackets,
    value_of,
)


def test_lmms_eval_syntax_with_its_value_types() -> None:
    assert parse_model_args(
        ["pretrained=Qwen/Qwen2-VL-7B-Instruct,dtype=bfloat16,max_pixels=12845056,"
         "use_flash_attention_2=True,temperature=0.5,device_map=auto"]
    ) == {
        "pretrained": "Qwen/Qwen2-VL-7B-Instruct",
        "dtype": "bfloat16",
        "max_pixels": 12845056,
        "use_flash_attention_2": True,
        "temperature": 0.5,
        "device_map": "auto",
    }  # fmt: skip


def test_a_value_keeps_everything_after_the_first_equals_sign() -> None:
    assert parse_model_args(["base_url=http://h:8000/v1?a=b,model=x"]) == {
        "base_url": "http://h:8000/v1?a=b",
        "model": "x",
    }


def test_commas_inside_brackets_and_quotes_do_not_split() -> None:
    assert split_outside_brackets('a={"x": 1, "y": [1, 2]},b="p,q",c=[3,4]') == [
        'a={"x": 1, "y": [1, 2]}',
        'b="p,q"',
        "c=[3,4]",
    ]
    # as lmms-eval: the text is kept as written (the server hands it on as text)
    assert parse_model_args(['pretrained=org/x,chat={"a": 1, "b": 2}']) == {
        "pretrained": "org/x",
        "chat": '{"a": 1, "b": 2}',
    }


def test_json_object_form_and_repeats_merge() -> None:
    assert parse_model_args(['{"pretrained": "org/x", "nested": {"k": [1]}}', "dtype=fp16"]) == {
        "pretrained": "org/x",
        "nested": {"k": [1]},
        "dtype": "fp16",
    }


def test_no_model_args_is_none_not_empty() -> None:
    assert parse_model_args([]) is None
    assert parse_model_args([""]) == {}


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (["pretrained"], "piece 1 \\(at column 1\\) is not key=value"),  # (its text unshown)
        (["=x"], "is not key=value"),
        (["a=1,a=2"], "'a' is given twice"),
        (["a=1", '{"a": 2}'], "'a' is given twice"),
        (['a="open'], "unclosed quote"),
        (["a={1,2"], "unclosed bracket"),
        (["{not json"], "not valid JSON"),
        (["{}", "[1]"], "not key=value"),
    ],
)
def test_malformed_model_args_say_what_is_wrong(given: list[str], says: str) -> None:
    with pytest.raises(InvalidArgumentError, match=says):
        parse_model_args(given)


def test_json_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="must be a JSON object, not list"):
        parse_extra_body("[1, 2]")
    assert parse_extra_body('{"seed": 7}') == {"seed": 7}
    assert parse_extra_body(None) is None


def test_values_nan_and_inf_stay_text() -> None:
    # JSON has no NaN: the server receives the text lmms-eval would have read anyway
    assert value_of("nan") == "nan" and value_of("inf") == "inf"
    assert value_of("FALSE") is False and value_of("007") == 7 and value_of("1e3") == 1000.0


def test_labels_stay_text() -> None:
    assert parse_labels(["epoch=3", "lane=nightly,step=100"]) == {
        "epoch": "3",
        "lane": "nightly",
        "step": "100",
    }
    with pytest.raises(InvalidArgumentError, match="--label"):
        parse_labels(["epoch"])
    # A value holding a comma or a quote is quoted; the quotes are not the label's (before:
    # kept, so a label's value could never hold a comma).
    assert parse_labels(['ckpt="runs/a,b"', 'desc="Bob\'s run"', "n='x'"]) == {
        "ckpt": "runs/a,b",
        "desc": "Bob's run",
        "n": "x",
    }


def test_tasks_limit_batch_size() -> None:
    assert parse_tasks(["mme, mmmu_val", "ai2d"]) == ["mme", "mmmu_val", "ai2d"]
    with pytest.raises(InvalidArgumentError, match="at least one task"):
        parse_tasks([" , "])
    assert parse_limit("8") == 8 and parse_limit("0.5") == 0.5 and parse_limit("-1") == -1
    assert isinstance(parse_limit("8"), int)
    with pytest.raises(InvalidArgumentError, match="--limit must be a number"):
        parse_limit("all")
    assert parse_batch_size("16") == 16 and parse_batch_size("auto:4") == "auto:4"
    assert parse_batch_size(None) is None
