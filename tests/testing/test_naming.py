"""The model name lmms-eval derives from model_args, which names the result folder."""

from __future__ import annotations

import pytest

from lmms_eval_client.testing import model_name_from_args, results_folder, sanitize_model_name


@pytest.mark.parametrize(
    ("model_args", "folder"),
    [
        ({"pretrained": "Qwen/Qwen2-VL-7B-Instruct"}, "Qwen__Qwen2-VL-7B-Instruct"),
        ({"model": "gpt-4o"}, "gpt-4o"),
        ({"pretrained": "/data/ckpt/org/x"}, "org__x"),  # the last two parts only
        ({"model_version": "a:b"}, "a__b"),
        # peft/delta come with pretrained and win, whatever the order
        ({"pretrained": "base/m", "peft": "me/adapter"}, "me__adapter"),
        # prefixes are found as substrings of "k=v,k=v": base_model= contains model=
        ({"base_model": "org/m", "device_map": "auto"}, "org__m"),
        # order of the prefixes, not of the keys: pretrained= before model=
        ({"model": "first", "pretrained": "second"}, "second"),
        # the local server's own keys do not count
        ({"sim_error": "model=nope", "engine": "e1"}, "e1"),
        ({"max_pixels": 1024}, ""),
        (None, ""),
        ({}, ""),
    ],
)
def test_results_folder(model_args: dict[str, object] | None, folder: str) -> None:
    assert results_folder(model_args) == folder


def test_model_name_stops_at_the_next_comma() -> None:
    assert model_name_from_args("pretrained=org/m,dtype=bf16") == "org/m"
    assert model_name_from_args("dtype=bf16") == ""


def test_sanitize_model_name() -> None:
    assert sanitize_model_name("org/x") == "org__x"
    assert sanitize_model_name("x") == "x"
    assert sanitize_model_name('a<b>c:d"e|f?g*h[i]') == "a__b__c__d__e__f__g__h__i__"


def test_results_config_masks_secrets_as_lmms_eval() -> None:
    from lmms_eval_client.testing._naming import redact_secrets

    text = "model=gpt-4o,api_key=sk-123,openai_api_key=x,note=hf_abcdefghijklmnopqrstuvwx"
    assert redact_secrets(text) == (
        "model=gpt-4o,api_key=[REDACTED],openai_api_key=[REDACTED],note=[REDACTED]"
    )
