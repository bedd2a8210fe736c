"""A ``--model-args`` the command line cannot read is refused without its text.

An adversarial test: ``submit -a 'pretrained=m,hf_token="hf_abc...'`` printed ``error:
unclosed quote " in 'pretrained=m,hf_token="hf_abc...'``, the secret in it; so did an
unclosed bracket (``api_key=sk-{...``) and a piece without its ``=`` (``api_key:sk-...``).
Secrets never appear in messages: a text that cannot be read cannot say which part of it
is a value, so no error of ``--model-args`` shows any of it. Each says instead which
piece (its number, its name when one can be read), what is wrong, and at which column.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lmms_eval_client import InvalidArgumentError
from lmms_eval_client._secret_args import SECRET_ARGS_ENV, is_secret_arg, secret_arg_words
from lmms_eval_client.cli.model_args import parse_labels, parse_model_args

from .conftest import QWEN_ARGS
from .test_commands import NOWHERE, invoke

SECRET = "S3cr3tV4lue-0123456789"
# Names that are secret by the project's one rule (_secret_args.secret_arg_words): each
# default word, in several cases, and one word added by $LMMS_EVAL_SECRET_ARGS.
ADDED = "credential"
NAMES = ["api_key", "hf_token", "Client_Secret", "DB_PASSWORD", "azure_credential"]


@pytest.fixture(autouse=True)
def added_word(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ARGS_ENV, ADDED)
    assert all(is_secret_arg(name, secret_arg_words()) for name in NAMES)


def at(text: str, char: str) -> str:
    return f"column {text.index(char) + 1}"


# (--model-args text, what the message says: the kind of problem, the piece and column)
def unreadable(name: str) -> list[tuple[str, list[str]]]:
    quoted = f'pretrained=m,{name}="{SECRET}'
    single = f"pretrained=m,{name}='{SECRET}"
    braced = f"pretrained=m,{name}=sk-{{{SECRET}"
    listed = f"{name}=[{SECRET}"
    colon = f"pretrained=m,{name}:{SECRET}"
    before = f'pretrained=m,"{name}={SECRET}'
    swallowing = f"pretrained=m,chat={{a,{name}={SECRET}"
    quoting = f'pretrained=m,desc="x,{name}={SECRET}'
    return [
        (quoted, ["piece 2", f"({name}=...)", 'unclosed quote "', at(quoted, '"')]),
        (single, ["piece 2", f"({name}=...)", "unclosed quote '", at(single, "'")]),
        (
            braced,
            ["piece 2", f"({name}=...)", "unclosed bracket {", at(braced, "{"), "no } closes"],
        ),
        (listed, ["piece 1", f"({name}=...)", "unclosed bracket [", at(listed, "[")]),
        (colon, ["piece 2 (at column 14)", "no '='", f"a ':' at {at(colon, ':')}"]),
        (f"pretrained=m,={SECRET}", ["piece 2 (at column 14)", "nothing before its '='"]),
        (f"pretrained=m,{SECRET}", ["piece 2 (at column 14)", "no '='"]),
        # the quote before the '=': no name can be read
        (before, ["piece 2 (at column 14)", 'unclosed quote "', at(before, '"')]),
        # an unclosed bracket or quote swallows the pieces after it: none of them is shown
        (swallowing, ["piece 2", "(chat=...)", "unclosed bracket {", at(swallowing, "{")]),
        (quoting, ["piece 2", "(desc=...)", 'unclosed quote "', at(quoting, '"')]),
        # what stands before the '=' is no name lmms-eval can take (a secret typed first)
        (f"pretrained=m,sk-{SECRET}={{x", ["piece 2 (at column 14)", "unclosed bracket {"]),
    ]


CASES = [(name, text, says) for name in NAMES for text, says in unreadable(name)]


@pytest.mark.parametrize(
    ("text", "says"), [c[1:] for c in CASES], ids=[f"{c[0]}-{i % 11}" for i, c in enumerate(CASES)]
)
def test_unreadable_model_args_say_where_without_their_text(text: str, says: list[str]) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_model_args([text])
    message = str(info.value)
    assert SECRET not in message and SECRET[:8] not in message, message
    assert message.startswith("--model-args: "), message
    for part in says:
        assert part in message, (part, message)
    assert "not shown" in message  # it says why the text is missing


def test_every_model_args_error_keeps_the_values_out() -> None:
    # Every path of model_args parsing that ends in an error: none shows a value.
    tries = [
        [f'{name}="{SECRET}' for name in NAMES],
        [f"pretrained=m,api_key={SECRET},api_key={SECRET}"],  # given twice: its name only
        ["pretrained=m", f'{{"api_key": "{SECRET}", "hf_token": "{SECRET}"}}', "api_key=x"],
        [f'{{"api_key": "{SECRET}"'],  # invalid JSON
        [f"pretrained=m,{SECRET},"],
        [f"pretrained=m,,api_key={SECRET}"],  # an empty piece
        ["pretrained=m", f"hf_token=({SECRET}"],  # parentheses do not group: readable
        ["pretrained=m", f"hf_token=[{SECRET}"],  # the second --model-args
    ]
    refused = 0
    for items in tries:
        try:
            parse_model_args(items)
        except InvalidArgumentError as exc:
            refused += 1
            assert SECRET not in str(exc), (items, str(exc))
    assert refused == len(tries) - 1


def test_the_value_of_several_model_args_is_named() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_model_args(["pretrained=m", f"hf_token=[{SECRET}"])
    message = str(info.value)
    assert "--model-args (value 2 of 2): piece 1 (hf_token=...)" in message, message
    assert SECRET not in message


def test_an_empty_piece_is_said_as_such() -> None:
    with pytest.raises(InvalidArgumentError, match=r"piece 2 \(at column 14\) is empty"):
        parse_model_args([f"pretrained=m,,api_key={SECRET}"])


def test_a_label_that_cannot_be_read_is_not_shown_either() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_labels([f'run="{SECRET}'])
    assert SECRET not in str(info.value) and "--label: piece 1 (run=...)" in str(info.value)


@pytest.mark.parametrize("command", ["submit", "runs submit"])
@pytest.mark.parametrize(
    "model_args",
    [
        f'pretrained=m,hf_token="hf_{SECRET}',
        f"pretrained=m,api_key=sk-{{{SECRET}",
        f"pretrained=m,api_key:sk-{SECRET}",
    ],
    ids=["quote", "bracket", "colon"],
)
def test_the_command_line_prints_no_secret_of_unreadable_model_args(
    command: str, model_args: str, tmp_path: Path
) -> None:
    ledger = [str(tmp_path / "never-created.sqlite")] if command == "runs submit" else []
    args = [
        *command.split(),
        *ledger,
        "-m",
        "qwen2_vl",
        "-t",
        "mme",
        "-a",
        QWEN_ARGS,
        "-a",
        model_args,
    ]
    result = invoke(args, NOWHERE)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: --model-args (value 2 of 2): piece 2"), line
    assert SECRET not in result.stderr and SECRET not in result.stdout, line
    assert not (tmp_path / "never-created.sqlite").exists()
