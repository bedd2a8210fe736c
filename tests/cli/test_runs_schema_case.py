"""A PostgreSQL ledger URL naming a schema in another case than the one there
(``?schema=T7A``, only ``t7a`` exists: ``CREATE SCHEMA T7A`` without quotes made it) is
named by the read-only commands too, as ``runs submit`` (an ``EvalRun``) names it.

Before (the adversarial test of a team's shared ledgers): ``runs ls|watch|export`` said
"There is no run ledger at '...?schema=T7A'" and nothing more.
"""

from __future__ import annotations

import psycopg
import pytest

from lmms_eval_client._runs.postgres.url import parse_url

from .test_commands import invoke


@pytest.mark.parametrize(
    "command", [["runs", "ls"], ["runs", "watch"], ["runs", "export"]], ids=" ".join
)
def test_read_only_commands_name_the_lower_case_schema_there(
    postgres_url: str, command: list[str]
) -> None:
    lower = postgres_url.rsplit("schema=", 1)[1]
    with psycopg.connect(parse_url(postgres_url).conninfo) as conn:
        conn.execute(f"CREATE SCHEMA {lower.upper()}")  # unquoted: lower case
    upper = postgres_url.replace(f"schema={lower}", f"schema={lower.upper()}")
    done = invoke([*command, upper], None)
    assert done.exit_code == 2, done.output
    # Before: "error: There is no run ledger at '...?schema=T_...'" and no more.
    assert f"give schema={lower} (see '" in done.stderr, done.stderr
    assert "There is no run ledger" in done.stderr and done.stderr.count("\n") == 1
    # The schema named exactly: no ledger there, and nothing more to say.
    plain = invoke([*command, postgres_url], None)
    assert plain.exit_code == 2 and "give schema" not in plain.stderr, plain.stderr
