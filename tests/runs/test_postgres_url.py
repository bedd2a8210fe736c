"""What a ledger URL's query hands libpq (an adversarial try): libpq reads a URL's query
percent-decoded, and a "+" as a "+" (not a form's space)."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from lmms_eval_client._runs.postgres.url import parse_url


def _libpq_reads(url: str) -> dict[str, object]:
    return conninfo_to_dict(parse_url(url).conninfo)


def test_parameter_values_reach_libpq_as_written() -> None:
    # Before: re-encoded as a form ("%20" became "+"): options=-c ... could never work,
    # and a password with a space given as ?password= failed to authenticate.
    read = _libpq_reads(
        "postgresql://u@h/db?options=-c%20statement_timeout%3D5000"
        "&application_name=nightly%20sweep&password=two%20words&sslmode=prefer&schema=run"
    )
    assert read["options"] == "-c statement_timeout=5000"
    assert read["application_name"] == "nightly sweep"
    assert read["password"] == "two words"
    assert read["sslmode"] == "prefer"


def test_a_plus_stays_a_plus() -> None:
    assert _libpq_reads("postgresql://u@h/db?application_name=a+b&schema=run")[
        "application_name"
    ] == "a+b"  # fmt: skip


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@h1:5432,h2:5433/db", "postgresql://u@/db?host=h1,h2&port=5432,5433"],
)
def test_a_url_of_several_hosts_connects_to_the_writable_one(url: str) -> None:
    # Before: after a primary's restart libpq took the first host that answered, a hot
    # standby, and every write of the run failed ("read-only transaction") until it ended.
    assert _libpq_reads(url)["target_session_attrs"] == "read-write"


@pytest.mark.parametrize(
    ("url", "attrs"),
    [
        ("postgresql://u@h/db", None),  # one host: its own errors say what is wrong
        ("postgresql://u@h1,h2/db?target_session_attrs=any", "any"),  # the URL's own
    ],
)
def test_otherwise_the_session_attributes_are_the_urls(url: str, attrs: str | None) -> None:
    assert _libpq_reads(url).get("target_session_attrs") == attrs


def test_a_url_without_a_host_is_shown_as_written_its_password_masked() -> None:
    # Before: "postgresql:/postgres?host=%2Frun%2Fpostgresql&password=***", one slash (a
    # form is_database_url refuses as mistyped), the socket's folder encoded.
    url = "postgresql:///postgres?host=/run/postgresql&password=s3cret&schema=run"
    assert parse_url(url).shown == (
        "postgresql:///postgres?host=/run/postgresql&password=***&schema=run"
    )
