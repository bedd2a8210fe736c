"""A submission key with spaces at either end is refused, before anything is recorded or sent.

An adversarial test: ``runs submit --key 'step-1 '`` recorded a key other than ``step-1``,
so both submissions were evaluated; a key of spaces only (``" "``) was taken too. A key
names a submission as the user types it: ``check_key`` refuses such a key (InvalidArgumentError,
a usage error on the command line), so that no ledger holds two keys that read the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import InvalidArgumentError
from lmms_eval_client._runs.ledger_keys import check_key

from ..cli.test_commands import NOWHERE, invoke
from ..support import MINIMAL_REQUESTS
from ._fake import BASE, FakeServer
from .conftest import MakeRunner

pytestmark = MINIMAL_REQUESTS

SPACED = ["step-1 ", " step-1", " ", "   ", " step-1 "]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


@pytest.mark.parametrize("key", SPACED)
def test_check_key_refuses_spaces_at_either_end(key: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_key(key)
    message = str(info.value)
    assert "spaces" in message and repr(key) in message, message
    assert check_key("step 1 of 3") == "step 1 of 3"  # spaces inside are a key's own


@pytest.mark.sqlite_ledger
@pytest.mark.parametrize("key", SPACED[:3])
async def test_a_spaced_key_is_refused_before_anything_is_recorded_or_sent(
    server: FakeServer, make_runner: MakeRunner, key: str
) -> None:
    runner = make_runner(BASE)
    with pytest.raises(InvalidArgumentError, match="key must"):
        await runner.submit("qwen2_vl", ["mme"], key=key)
    assert await runner.jobs() == [] and server.requests["POST /evaluate"] == 0


@pytest.mark.parametrize("key", SPACED[:3])
def test_runs_submit_refuses_a_spaced_key_with_a_usage_error(tmp_path: Path, key: str) -> None:
    ledger = tmp_path / "never-created.sqlite"
    args = ["runs", "submit", str(ledger), "--key", key, "-m", "qwen2_vl", "-t", "mme"]
    result = invoke([*args, "-a", "pretrained=org/x"], NOWHERE)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: key must") and "spaces" in line, line
    assert not ledger.exists()
