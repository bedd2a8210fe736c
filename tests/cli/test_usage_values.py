"""Values no command can use are usage errors: exit 2, one line naming the option, nothing sent.

Issue 20, item 11: ``--extra-body`` nested 10,000 deep ended in a RecursionError traceback
(exit 1), one nested 500 deep in pydantic's "Maximum serialization depth exceeded"; ``submit
--wait --poll-interval nan`` (or ``--wait-timeout nan``) submitted the job before refusing
the value; ``health --wait 1e400`` waited forever. Every option in seconds is checked by
``check_seconds`` when the command line is read.
"""

from __future__ import annotations

import json

import pytest

from .conftest import QWEN_ARGS
from .test_commands import NOWHERE, invoke


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


SUBMIT = ["submit", "-m", "qwen2_vl", "-t", "mme", "-a", QWEN_ARGS]
JSON_10K = json.dumps({"a": 1})[:-1] + f', "b": {deep(10_000)}}}'
JSON_500 = json.dumps({"a": 1})[:-1] + f', "b": {deep(500)}}}'
MODEL_ARGS_10K = '{"pretrained": "x", "b": ' + deep(10_000) + "}"

CASES = [
    ([*SUBMIT, "--extra-body", JSON_10K], "--extra-body"),
    ([*SUBMIT, "--extra-body", JSON_500], "nested too deeply"),
    (["submit", "-m", "qwen2_vl", "-t", "mme", "-a", MODEL_ARGS_10K], "--model-args"),
    ([*SUBMIT, "--wait", "--poll-interval", "nan"], "--poll-interval"),
    ([*SUBMIT, "--wait", "--poll-interval", "inf"], "--poll-interval"),
    ([*SUBMIT, "--wait", "--wait-timeout", "nan"], "--wait-timeout"),
    ([*SUBMIT, "--wait", "--wait-timeout", "1e400"], "--wait-timeout"),
    (["wait", "job-1", "--poll-interval", "nan"], "--poll-interval"),
    (["wait", "job-1", "--poll-interval", "1e400"], "--poll-interval"),
    (["wait", "job-1", "--poll-interval", "0"], "--poll-interval"),
    (["wait", "job-1", "--timeout", "nan"], "--timeout"),
    (["wait", "job-1", "--timeout", "1e400"], "--timeout"),
    (["wait", "job-1", "--timeout", "inf"], "--timeout"),
    (["wait", "job-1", "--timeout", "-1"], "--timeout"),
    (["logs", "job-1", "--follow", "--poll-interval", "nan"], "--poll-interval"),
    (["health", "--wait", "nan"], "--wait"),
    (["health", "--wait", "1e400"], "--wait"),
]


@pytest.mark.timeout(60)  # before the fix, health --wait 1e400 waited forever
@pytest.mark.parametrize(("args", "says"), CASES, ids=[" ".join(c[0][-2:])[:40] for c in CASES])
def test_a_value_no_command_can_use_is_a_usage_error(args: list[str], says: str) -> None:
    result = invoke(args, NOWHERE)  # a request sent there would exit 5
    assert result.exit_code == 2, (result.exit_code, result.output[-500:])
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and says in line, line
    assert len(line) < 300  # the value is not quoted 10,000 brackets long
    assert result.stdout == ""


def test_a_finite_wait_timeout_still_works() -> None:
    result = invoke(["wait", "job-1", "--timeout", "0.5", "--poll-interval", "0.1"], NOWHERE)
    assert result.exit_code == 4  # checked and accepted: it waited, then timed out
