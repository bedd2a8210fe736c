"""A ledger URL's password is never printed by the command line, however the URL is
mistyped or misplaced (an adversarial try of the PostgreSQL ledger).

Before: click's own usage errors quoted the argument whole ("Invalid value for 'seq':
'postgresql://evals:p%40ss@...' is not a valid int", "Got unexpected extra argument(s)
(postgresql://...)"), and a URL with a typo (a leading space, one slash) was taken for a
SQLite file's path and echoed, password and all."""

from __future__ import annotations

import sys

import pytest

from lmms_eval_client.cli.app import main

URL = "postgresql://evals:SECRET%40PW@127.0.0.1:9/evals?schema=s1"


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "show", "1", URL],  # SEQ and LEDGER swapped
        ["runs", "ls", URL, URL],  # an extra argument
        ["runs", "watch", URL, "--timeout", URL],  # a URL where a number goes
        ["runs", "ls", " " + URL],  # a leading space: a file's path
        ["runs", "ls", "postgresql:/evals:SECRET%40PW@127.0.0.1:9/evals"],  # one slash
        ["runs", "ls", "postgresql:evals:SECRET%40PW@127.0.0.1:9/evals"],  # none
        ["runs", "ls", "postgresql//evals:SECRET%40PW@127.0.0.1:9/evals"],  # no colon
        # (the review) a password that starts with "/", holds a quote or a space, or "//"
        ["runs", "ls", "x.sqlite", "postgresql://evals:/SECRET@127.0.0.1:9/evals"],
        ["runs", "ls", "x.sqlite", "postgresql://evals:pa'SECRET@127.0.0.1:9/evals"],
        ["runs", "ls", "x.sqlite", "postgresql://evals:pa SECRET@127.0.0.1:9/evals"],
        ["runs", "ls", "x.sqlite", "postgresql:/evals:ab//SECRET@127.0.0.1:9/evals"],
        # (the host urllib reads is an address: no name is looked up)
        ["runs", "ls", "postgresql://127.0.0.1:9?SECRETPW@127.0.0.1:9/evals?schema=s1"],
    ],
    ids=lambda args: " ".join(args)[:60],
)
def test_no_usage_error_prints_the_password(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["lmms-eval-client", *args])
    with pytest.raises(SystemExit) as done:
        main()
    out, err = capsys.readouterr()
    assert done.value.code != 0
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "SECRET" not in out + err, err


def test_the_masking_reads_a_hostile_line_once() -> None:
    # (a first version of the rule, a regular expression, took 28 s for 80,000 characters
    # of "a:a:...": a usage error quotes an argument whole)
    from lmms_eval_client._text import without_passwords

    assert without_passwords("a:" * 200_000 + "b@h").endswith("a:***@h")
    assert without_passwords("x:@" * 200_000) == "x:***@"  # all up to the last "@"
    assert without_passwords("a" * 200_000 + "@h") == "a" * 200_000 + "@h"  # (the review)
    assert without_passwords("/" * 200_000 + "@h").endswith("@h")
