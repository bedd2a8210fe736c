"""A PostgreSQL ledger URL: what psycopg connects with, the run's schema, and the URL as
messages show it (never its password)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlencode, urlsplit

from ..._exceptions import InvalidArgumentError

SCHEMES = ("postgresql", "postgres")
# Any "scheme://" is a URL, not a file: a URL of another scheme (postgresql+psycopg://,
# s3://) is refused with its password masked, never opened as a path that prints it.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# A URL mistyped: a space before it, or postgresql with one slash or none after its colon,
# or no colon ("postgresql:/u:pw@h", "postgresql//u:pw@h"). Taken for a file's path, it was
# echoed in messages, password and all, or made a file of that name.
_MISTYPED_URL = re.compile(r"(?i)\s+[A-Za-z][\w+.-]*://|\s*postgres(?:ql)?(?::(?!//)|//)")
DEFAULT_SCHEMA = "lmms_eval"
# A schema name quoted as an identifier: 63 bytes at most (PostgreSQL's NAMEDATALEN), no
# "pg_" prefix (reserved for the system's).
_SCHEMA = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}")
# Query parameters that carry a secret (libpq's): shown masked.
_SECRET_PARAMS = frozenset({"password", "sslpassword"})
_MASK = "***"
# libpq's defaults where the URL says nothing: an unreachable host fails, never hangs, and a
# connection whose peer vanished mid-query is dropped within about a minute.
_DEFAULTS = (
    ("connect_timeout", "10"),
    ("keepalives", "1"),
    ("keepalives_idle", "30"),
    ("keepalives_interval", "10"),
    ("keepalives_count", "3"),
    ("tcp_user_timeout", "60000"),
    ("application_name", "lmms-eval-client"),
)
# A secret shorter than this is not searched for in a driver's message (it would mask
# letters of every word): such a message is replaced whole.
_SHORTEST_SCRUBBED = 4


def is_database_url(target: str) -> bool:
    """Whether a ledger target is a URL (a PostgreSQL database; any other scheme is
    refused by ``parse_url``), else it is a SQLite file's path. A target that looks like a
    URL with a password but is none (a space before it, one slash) is refused, without the
    password: taken for a path, it was echoed in messages, or made a file of that name.

    Example::

        is_database_url("postgresql://evals@db.internal/evals?schema=sweep")  # True
    """
    if _URL.match(target) is not None:
        return True
    if _MISTYPED_URL.match(target) is not None:
        from ..._text import without_passwords  # (its rules load httpx: --help must not)

        raise InvalidArgumentError(
            f"The ledger {without_passwords(target)!r} looks like a database URL, but is none: "
            "write postgresql://USER@HOST[:PORT]/DATABASE?schema=RUN (with USER:PASSWORD, its "
            "'/', '?', '#' and '@' percent-encoded), nothing before it"
        )
    return False


@dataclass(frozen=True)
class LedgerURL:
    """A parsed ledger URL. ``conninfo`` holds the password: never shown or logged."""

    conninfo: str = field(repr=False)
    schema: str
    shown: str
    secrets: tuple[str, ...] = field(default=(), repr=False)


def parse_url(url: str) -> LedgerURL:
    """The URL's parts; InvalidArgumentError (naming the URL without its password) when it
    is not one PostgreSQL reads, or its schema name is not valid."""
    shown = _shown(url)
    scheme = url.split("://", 1)[0]
    if scheme.lower() not in SCHEMES:
        raise InvalidArgumentError(
            f"The ledger {shown!r} is a URL of scheme {scheme!r}: a ledger is a SQLite file's "
            "path or a PostgreSQL URL, postgresql://USER@HOST[:PORT]/DATABASE?schema=RUN"
        )
    try:
        parts = urlsplit(url)
        _check_ports(parts.netloc.rpartition("@")[2])
    except ValueError as exc:
        # urllib's message quotes the port it could not read, which is part of a password
        # holding an unencoded "/", "?" or "#" ("...as 'SECRETab'"): not shown then.
        said = (
            "its port is not a number from 0 to 65535, or its user or password holds a '/', "
            "'?', '#' or '@': percent-encode them (%2F, %3F, %23, %40)"
            if ":" in url.partition("://")[2].rpartition("@")[0]  # a password is given
            else str(exc)
        )
        raise InvalidArgumentError(f"The ledger URL {shown!r} cannot be read: {said}") from None
    # Where urllib ends the user part (at a "/", "?" or "#") is not where the password
    # ends (at the last "@"): libpq would read the rest as a path or a query, and quote it.
    if parts.netloc.count("@") > 1:
        raise InvalidArgumentError(
            f"The ledger URL {shown!r} has an '@' in its user or password: percent-encode it "
            "as %40 (PostgreSQL reads the user part up to the first '@')"
        )
    params = _query(parts.query)
    if not parts.hostname and "host" not in dict(params):
        raise InvalidArgumentError(
            f"The ledger URL {shown!r} names no host: write "
            "postgresql://USER@HOST[:PORT]/DATABASE?schema=RUN"
        )
    schemas = [value for name, value in params if name == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    if not _SCHEMA.fullmatch(schema) or schema.lower().startswith("pg_"):
        raise InvalidArgumentError(
            f"The ledger URL {shown!r} names the schema {schema!r}: a run's schema is 1 to 63 "
            "letters, digits, '_' or '-', not starting with 'pg_' (e.g. ?schema=sweep_lr3e4)"
        )
    kept = [(name, value) for name, value in params if name != "schema"]
    given = {name for name, _ in kept}
    kept += [(name, value) for name, value in _DEFAULTS if name not in given]
    named = (parts.netloc.rpartition("@")[2], dict(params).get("host", ""))
    hosts = [host for hosts in named for host in hosts.split(",") if host]
    if len(hosts) > 1 and "target_session_attrs" not in given:
        # Several hosts: libpq takes the first that answers, which after a primary's
        # restart can be a hot standby, where every write of the run would fail.
        kept.append(("target_session_attrs", "read-write"))
    # Not urlunsplit: it drops the "//" of a URL without a host (a unix socket's
    # postgresql:///db?host=/run/postgresql), which libpq then cannot read.
    query = urlencode(kept, quote_via=quote)
    conninfo = f"{scheme.lower()}://{parts.netloc}{parts.path}?{query}"
    found = [parts.password or ""] + [v for name, v in params if name in _SECRET_PARAMS]
    # Where urllib ends the user part (at a "/", "?" or "#") may not be where the password
    # ends (at the last "@", as _shown reads it): libpq then reads the rest as a path or a
    # query and quotes it in its errors ("invalid URI query parameter: ..."), so each piece
    # of the password as _shown reads it is a secret too.
    userinfo = url.partition("://")[2].rpartition("@")[0]
    if ":" in userinfo and parts.netloc.rpartition("@")[0] != userinfo:
        told = userinfo.split(":", 1)[1]
        found += [told, *re.split(r"[/?#]", told)]
    secrets = tuple({form for value in found if value for form in (value, unquote(value))})
    return LedgerURL(conninfo=conninfo, schema=schema, shown=shown, secrets=secrets)


def _query(query: str) -> list[tuple[str, str]]:
    """A URL's query as libpq reads it: percent-decoded, a "+" kept (not a form's space)."""
    pairs = [piece.partition("=") for piece in query.split("&") if piece]
    return [(unquote(name), unquote(value)) for name, _, value in pairs]


def _check_ports(hosts: str) -> None:
    """ValueError unless each port of ``host[:port][,host[:port]...]`` is a number from 0
    to 65535 (libpq tries several hosts in turn; urllib reads one)."""
    for host in hosts.split(","):
        _, colon, port = host.rpartition(":") if not host.endswith("]") else ("", "", "")
        if colon and port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
            raise ValueError(f"its port {port!r} is not a number from 0 to 65535")


def _shown(url: str) -> str:
    """The URL with its password (in the user part or the query) masked. The user part is
    taken as everything before the last "@": a password with an unencoded "/", "?" or "#"
    is masked too (a host or query after such a password may be masked with it)."""
    scheme, _, rest = url.partition("://")
    before, at, after = rest.rpartition("@")
    if at and ":" in before:
        rest = f"{before.split(':', 1)[0]}:{_MASK}@{after}"
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        params = _query(parts.query)
    except ValueError:
        return f"{scheme}://{rest}"
    if not any(name in _SECRET_PARAMS for name, _ in params):
        return f"{scheme}://{rest}"
    query = urlencode(
        [(name, _MASK if name in _SECRET_PARAMS else value) for name, value in params],
        safe="*/:,",  # shown: a host=/run/postgresql as it was written
        quote_via=quote,
    )
    # (not urlunsplit: it drops the "//" of a URL without a host, as in parse_url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{query}"


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every form of every secret masked (a driver's message may quote what
    it was given); a message that a short secret could hide in is not shown at all."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) < _SHORTEST_SCRUBBED:
            return "(the server's message is not shown: it could quote the password)"
        text = text.replace(secret, _MASK)
    return text
