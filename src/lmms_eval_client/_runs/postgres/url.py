"""A PostgreSQL ledger URL: what psycopg connects with, the run's schema, and the URL as
messages show it (never its password)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..._exceptions import InvalidArgumentError

SCHEMES = ("postgresql://", "postgres://")
DEFAULT_SCHEMA = "lmms_eval"
# A schema name quoted as an identifier: 63 bytes at most (PostgreSQL's NAMEDATALEN), no
# "pg_" prefix (reserved for the system's).
_SCHEMA = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}")
# Query parameters that carry a secret (libpq's): shown masked.
_SECRET_PARAMS = frozenset({"password", "sslpassword"})
_MASK = "***"


def is_database_url(target: str) -> bool:
    """Whether a ledger target is a PostgreSQL URL (else it is a SQLite file's path).

    Example::

        is_database_url("postgresql://evals@db.internal/evals?schema=sweep")  # True
    """
    return target.startswith(SCHEMES)


@dataclass(frozen=True)
class LedgerURL:
    """A parsed ledger URL. ``conninfo`` holds the password: never shown or logged."""

    conninfo: str = field(repr=False)
    schema: str
    shown: str
    password: str | None = field(default=None, repr=False)


def parse_url(url: str) -> LedgerURL:
    """The URL's parts; InvalidArgumentError (naming the URL without its password) when it
    is not one PostgreSQL reads, or its schema name is not valid."""
    parts = urlsplit(url)
    shown = _shown(url)
    if not parts.hostname and "host" not in dict(parse_qsl(parts.query)):
        raise InvalidArgumentError(
            f"The ledger URL {shown!r} names no host: write "
            "postgresql://USER@HOST[:PORT]/DATABASE?schema=RUN"
        )
    try:
        parts.port  # noqa: B018 (validates it)
    except ValueError as exc:
        raise InvalidArgumentError(f"The ledger URL {shown!r} has a bad port: {exc}") from None
    params = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for name, value in params if name == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    if not _SCHEMA.fullmatch(schema) or schema.lower().startswith("pg_"):
        raise InvalidArgumentError(
            f"The ledger URL {shown!r} names the schema {schema!r}: a run's schema is 1 to 63 "
            "letters, digits, '_' or '-', not starting with 'pg_' (e.g. ?schema=sweep_lr3e4)"
        )
    kept = [(name, value) for name, value in params if name != "schema"]
    if not any(name == "connect_timeout" for name, _ in kept):
        kept.append(("connect_timeout", "10"))  # an unreachable host fails, never hangs
    if not any(name == "application_name" for name, _ in kept):
        kept.append(("application_name", "lmms-eval-client"))
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))
    secrets = [value for name, value in params if name in _SECRET_PARAMS]
    password = parts.password or (secrets[0] if secrets else None)
    return LedgerURL(conninfo=conninfo, schema=schema, shown=shown, password=password)


def _shown(url: str) -> str:
    """The URL with its password (in the user part or the query) masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        name = user.split(":", 1)[0]
        netloc = f"{name}:{_MASK}@{host}"
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode(
        [(name, _MASK if name in _SECRET_PARAMS else value) for name, value in params],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` masked (a driver's message may quote what it was given)."""
    return text.replace(secret, _MASK) if secret else text
