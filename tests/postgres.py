"""A real PostgreSQL server on 127.0.0.1 for the tests of the PostgreSQL ledger (issue 26).

A pytest plugin (``pytest_plugins`` of tests/conftest.py) with two fixtures:

- ``postgres_server`` (one per session, so one per xdist worker): a ``PostgresServer``,
  with ``.url`` (``postgresql://lmms:PASSWORD@127.0.0.1:PORT/postgres``), ``.password``,
  ``.port``, ``.pid`` (the postmaster's, None while stopped), ``.stop()``, ``.start()``
  and ``.restart()`` (stopped fast and started again on the same port and data folder).
- ``postgres_url``: ``postgres_server.url`` with ``?schema=t_<random hex>``, a schema name
  of its own for every test (the ledger creates it: tests are isolated by schema).

``start_postgres()`` starts another, independent server (``close()`` stops it and removes
its folder); ``running_postgres()`` is the same as a ``with`` block.

How: ``initdb`` in a fresh temporary folder (superuser ``lmms``, a random password,
``scram-sha-256`` over TCP), then ``pg_ctl -w start`` on a free loopback port with no Unix
socket; stopped by the PID it wrote in ``postmaster.pid``: ``pg_ctl stop -m fast``, then
that PID is waited for (SIGKILL as a last resort). PostgreSQL refuses to run as root: as
root, its programs run as the ``postgres`` user (``nobody`` without one), which owns the
folder. The binaries are Debian's (``make postgresql`` installs them); without them the
fixtures fail, saying so, rather than skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import HOST, free_port, wait_gone

USER = "lmms"
START_TIMEOUT = 60  # seconds for pg_ctl -w start (and stop)
KILL_TIMEOUT = 10.0  # seconds for the postmaster to exit after pg_ctl stop, then SIGKILL
PORT_ATTEMPTS = 3  # a free port can be taken between picking and binding it
MISSING = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found under "
    "/usr/lib/postgresql/*/bin or on PATH: run `make postgresql` (Debian's postgresql)"
)


class PostgresError(RuntimeError):
    """The test PostgreSQL server could not be installed, started or stopped."""


def find_bindir() -> Path:
    """The folder of initdb and pg_ctl: the newest of Debian's, else the one on PATH
    (``pg_config --bindir`` may name the client's folder only)."""

    def version(folder: str) -> tuple[int, ...]:
        name = Path(folder).parent.parent.name
        return tuple(int(part) for part in re.findall(r"\d+", name))

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl", path=str(Path(on_path).parent)):
        return Path(on_path).parent
    raise PostgresError(MISSING)


def _server_user() -> pwd.struct_passwd | None:
    """Whom PostgreSQL's programs run as: None for ourselves, unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresError("running as root, and neither a postgres nor a nobody user exists")


class PostgresServer:
    """A PostgreSQL server of the tests, on 127.0.0.1, in a temporary folder of its own."""

    def __init__(self, folder: Path, bindir: Path, password: str) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.password = password
        self.port = 0
        self.pid: int | None = None
        self._bindir = bindir
        self._user = _server_user()

    @property
    def url(self) -> str:
        """``postgresql://lmms:PASSWORD@127.0.0.1:PORT/postgres``."""
        return f"postgresql://{USER}:{self.password}@{HOST}:{self.port}/postgres"

    def __repr__(self) -> str:  # never the password
        return f"<PostgresServer {HOST}:{self.port} pid={self.pid} data={str(self.data)!r}>"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self._bindir / args[0]), *args[1:]]
        if self._user is not None and shutil.which("runuser"):
            command = ["runuser", "-u", self._user.pw_name, "--", *command]
        elif self._user is not None:
            ids = [f"--reuid={self._user.pw_uid}", f"--regid={self._user.pw_gid}"]
            command = ["setpriv", *ids, "--init-groups", *command]
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        done = subprocess.run(
            command, cwd=self.folder, env=env, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise PostgresError(
                f"{args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}{self._log()}"
            )
        return done

    def _log(self, since: int = 0) -> str:
        """The server's log (its end), from byte ``since``; empty when there is none."""
        try:
            with self.log.open("rb") as file:
                file.seek(since)
                text = file.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""
        return f"\n--- {self.log} ---\n{text}"

    def _log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    def init(self) -> None:
        """initdb: the superuser ``lmms`` with the password, scram-sha-256 over TCP."""
        pwfile = self.folder / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self._give(pwfile)
        try:
            self._run(
                "initdb",
                f"--pgdata={self.data}",
                f"--username={USER}",
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",  # a throwaway cluster (the server itself keeps fsync on)
            )
        finally:
            pwfile.unlink()
        with (self.data / "postgresql.conf").open("a") as conf:
            # No Unix socket (nothing but TCP on loopback); small, for one per xdist worker.
            conf.write(
                f"\nlisten_addresses = '{HOST}'\nunix_socket_directories = ''\n"
                "shared_buffers = 16MB\nmax_connections = 60\n"
            )

    def _give(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def start(self) -> None:
        """Start the server (on its port; the first time, a free one); ``.pid`` is its PID."""
        if self.pid is not None:
            raise PostgresError(f"{self!r} is already running")
        if self.port:  # started before: its URL stays the same
            self._start_on(self.port)
            return
        for attempt in range(1, PORT_ATTEMPTS + 1):
            logged = self._log_size()
            try:
                self._start_on(free_port())
                return
            except PostgresError:
                if attempt == PORT_ATTEMPTS or "could not bind" not in self._log(since=logged):
                    raise

    def _start_on(self, port: int) -> None:
        done = self._run(
            "pg_ctl", "start", "-w", f"--timeout={START_TIMEOUT}", f"--pgdata={self.data}",
            f"--log={self.log}", f"--options=-c port={port}", check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise PostgresError(
                f"pg_ctl start on port {port} failed: {done.stdout}{done.stderr}{self._log()}"
            )
        self.port = port
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``) and make sure its PID is gone."""
        pid, self.pid = self.pid, None
        if pid is None:
            return
        self._run(
            "pg_ctl", "stop", "-w", "-m", "fast", f"--timeout={START_TIMEOUT}",
            f"--pgdata={self.data}", check=False,
        )  # fmt: skip
        if not wait_gone(pid, KILL_TIMEOUT):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not wait_gone(pid, KILL_TIMEOUT):
                raise PostgresError(f"the postmaster {pid} did not exit, even killed")

    def restart(self) -> None:
        """Stop fast and start again: the same port, the same data folder, a new PID."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """A new PostgreSQL server, initialized and started; ``close()`` it when done."""
    bindir = find_bindir()
    # Not under pytest's tmp_path: its folders are root's only (0700), and the server may
    # run as another user, who owns this one.
    folder = Path(tempfile.mkdtemp(prefix="lmms-postgres-"))
    server = PostgresServer(folder, bindir, secrets.token_urlsafe(18))
    try:
        server._give(folder)
        server.init()
        server.start()
    except BaseException:
        server.close()
        raise
    return server


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """``with running_postgres() as server:`` a server of its own, gone after the block."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (per xdist worker); see the module's doc."""
    try:
        server = start_postgres()
    except PostgresError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The session's server, with a schema of this test's own: ``...?schema=t_<hex>``."""
    if postgres_server.pid is None:  # an earlier test stopped it
        postgres_server.start()
    return f"{postgres_server.url}?schema=t_{secrets.token_hex(8)}"


def dump_schema(url: str) -> str:
    """Every row of every table of the ledger URL's schema, as text: what a secret must
    never be found in (the SQLite tests read the file's bytes)."""
    from urllib.parse import parse_qsl, urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    schema = dict(parse_qsl(parts.query))["schema"]
    plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    lines = []
    with psycopg.connect(plain) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY table_name",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} AS t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            lines += [str(row[0]) for row in conn.execute(query).fetchall()]
    return "\n".join(lines)
