"""Where the commands send their requests: the global options, and the client they make.

Every command gets its client from :func:`connect`, the one place that turns ``--server``
(repeatable), ``--api-key``, ``--timeout`` and the environment into something to talk to:
an :class:`EvalClient` for one server, an :class:`EvalPool` for several (jobs routed, and
found again on the server that holds them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

import typer

if TYPE_CHECKING:
    from lmms_eval_client import EvalClient, EvalPool


@dataclass(frozen=True)
class Settings:
    """The global options of one invocation (``lmms-eval-client [OPTIONS] COMMAND``).

    Attributes:
        servers: The ``--server`` values in order; empty: ``$LMMS_EVAL_BASE_URLS``
            (comma-separated, as ``EvalPool()`` reads it), else ``$LMMS_EVAL_BASE_URL``, else
            ``http://localhost:8000`` (the SDK's defaults).
        api_key: ``--api-key``; None: ``$LMMS_EVAL_API_KEY`` (read by the SDK). Never shown.
        timeout: ``--timeout``, the network timeout of one request in seconds; None: the
            SDK's default (60 s, 10 s to connect).
        debug: ``--debug``: tracebacks and the SDK's debug log on stderr.
    """

    servers: tuple[str, ...] = ()
    api_key: str | None = field(default=None, repr=False)
    timeout: float | None = None
    debug: bool = False


def connect(settings: Settings, *, output_root: str | os.PathLike[str] | None = None) -> Client:
    """The client the commands use, for the server(s) the settings name: an EvalPool
    when several ``--server`` are given, or without one several in ``$LMMS_EVAL_BASE_URLS``
    (jobs routed, and found on the server holding them).

    Close it (``with connect(settings) as client:``).

    Args:
        settings: The global options.
        output_root: ``submit --output-root``: a folder on the server's disk under which each
            job without ``--output-dir`` gets its own (default: ``$LMMS_EVAL_OUTPUT_ROOT``).

    Raises:
        InvalidArgumentError: A setting the SDK refuses (a bad URL, a timeout that is not a
            number of seconds).

    Example::

        with connect(Settings(servers=("http://127.0.0.1:8000",))) as client:
            print(client.health().status)
    """
    # Imported here: `--help` needs neither, one server needs no pool.
    from lmms_eval_client import DEFAULT_TIMEOUT, EvalClient, InvalidArgumentError

    timeout = DEFAULT_TIMEOUT if settings.timeout is None else settings.timeout
    try:
        servers = settings.servers or _servers_of_environment()
        if len(servers) > 1:
            from lmms_eval_client import EvalPool

            return EvalPool(servers, timeout, api_key=settings.api_key, output_root=output_root)
        base_url = servers[0] if servers else None
        return EvalClient(base_url, timeout, api_key=settings.api_key, output_root=output_root)
    except InvalidArgumentError as exc:
        if output_root is None:  # then a global option's (--server, --timeout...) or $LMMS_EVAL_*
            exc.add_note(GLOBAL_OPTION)
        raise


def server_given(settings: Settings) -> bool:
    """Whether the user named a server: ``--server``, ``$LMMS_EVAL_BASE_URLS`` or
    ``$LMMS_EVAL_BASE_URL`` (else the ``runs`` commands poll the servers of the ledger)."""
    from lmms_eval_client._http.config import BASE_URL_ENV
    from lmms_eval_client._pool.config import BASE_URLS_ENV

    named = (os.environ.get(name, "").strip() for name in (BASE_URLS_ENV, BASE_URL_ENV))
    return bool(settings.servers) or any(named)


def _servers_of_environment() -> tuple[str, ...]:
    """The servers of ``$LMMS_EVAL_BASE_URLS`` (comma-separated), as ``EvalPool()`` reads
    them, or none (then ``$LMMS_EVAL_BASE_URL``, else localhost: the client's default)."""
    from lmms_eval_client import InvalidArgumentError
    from lmms_eval_client._pool.config import BASE_URLS_ENV, server_entries

    if not os.environ.get(BASE_URLS_ENV, "").strip():
        return ()
    try:
        return tuple(str(url) for url in server_entries(None, str))
    except InvalidArgumentError as exc:  # (said as the variable's: no option was given)
        raise InvalidArgumentError(f"${BASE_URLS_ENV}: {exc}") from None


# On an error a global option caused: its help is the application's, not the command's.
GLOBAL_OPTION = "(caused by a global option: lmms-eval-client -h lists them)"

Client: TypeAlias = "EvalClient | EvalPool"
"""What the commands send through: one server's client, or a pool of several."""


def server_of(client: Client, job: object = None) -> str:
    """The server to name in output: the client's, or for a pool the job's (else all)."""
    from lmms_eval_client import EvalClient  # loaded: `client` is one (or a pool)

    if isinstance(client, EvalClient):
        return client.base_url
    where = getattr(job, "server", None)
    return where if isinstance(where, str) else ",".join(client.servers)


def settings_of(ctx: typer.Context) -> Settings:
    """The global options, as the application's callback stored them on the context."""
    found = ctx.find_object(Settings)
    return found if found is not None else Settings()
