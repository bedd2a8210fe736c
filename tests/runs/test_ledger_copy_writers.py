"""``copy_ledger``'s rule for a source a process may still write (``live_writers``), over
both stores where it applies to both.

Refused whatever is said: a run of this process still open; a process of this host holding
the SQLite file open for writing (a watcher too, which names itself nowhere in the ledger).
Refused unless ``writers_stopped``: writers the ledger names that cannot be checked (of
other hosts or PID namespaces; alive on this host, for a PostgreSQL ledger). Warned of: a
live writer of this host without the SQLite file open. Not counted: a writer whose process
ended, or whose pid a process started since holds (reused).

Before (the adversarial test of a team's shared ledgers): every copy went ahead, whoever
still wrote the source.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun, InvalidArgumentError
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_copy import copy_ledger
from lmms_eval_client._runs.options import _this_host
from lmms_eval_client.testing import LocalServer

from ._support import QWEN, LedgerTarget

HOST = socket.gethostname()

# A process holding a SQLite file open (writable unless argv[2] says ro) until stdin closes.
HOLDER = """
import sqlite3, sys
uri = f"file:{sys.argv[1]}" + ("?mode=ro" if sys.argv[2] == "ro" else "")
conn = sqlite3.connect(uri, uri=True)
conn.execute("SELECT count(*) FROM jobs").fetchall()
print("ready", flush=True)
sys.stdin.read()
"""


def written_by(target: LedgerTarget, *owners: str, ago: float = 0.0) -> None:
    """A job recorded by each owner, ``ago`` seconds ago (in the order given)."""
    with closing(Ledger(target)) as ledger:
        for owner in owners:
            n = len(ledger.jobs())
            request = build_evaluate_request(
                "qwen2_vl", ["mme"], {"pretrained": f"org/m{n}"},
                None, None, None, None, None, True, False, 1, None,
            )  # fmt: skip
            job = ledger.record_intent(
                token=f"tok{n:09d}", labels={}, request=request, server="http://127.0.0.1:9",
                owner=owner, snapshot=QueueSnapshot((), 0, 0).to_json(),
            )  # fmt: skip
            with ledger.transaction("test") as conn:
                at = time.time() - ago + n / 100
                conn.execute("UPDATE jobs SET created_at = ? WHERE seq = ?", (at, job.seq))


def here(pid: int) -> str:
    return f"{_this_host()}:{pid}:0a1b2c3d"


def named_alive(ledger_store: str, target: LedgerTarget, copy: Path, pid: int) -> None:
    """A live writer of this host, named alone: of a SQLite file it does not hold, by a
    warning (copied); of a PostgreSQL schema, by the refusal unless writers_stopped."""
    if ledger_store == "sqlite":
        with pytest.warns(UserWarning, match=rf"^process {pid}@{HOST} \(sleep\), which wrote"):
            assert copy_ledger(target, str(copy)) >= 1
        return
    with pytest.raises(InvalidArgumentError) as refused:
        copy_ledger(target, str(copy))
    assert f"written by process {pid}@{HOST} (sleep, alive), which cannot" in str(refused.value)
    assert not copy.exists()
    assert copy_ledger(target, str(copy), writers_stopped=True) >= 1


def test_a_run_of_this_process_still_open_is_refused_whatever_is_said(
    ledger_target: LedgerTarget, tmp_path: Path, local_server: LocalServer
) -> None:
    copy = tmp_path / "copy.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger_target) as run:
        run.submit("qwen2_vl", ["mme"], QWEN, key="k1")
        with pytest.raises(InvalidArgumentError, match=f"process {os.getpid()}@{HOST} "):
            copy_ledger(ledger_target, str(copy))
        with pytest.raises(InvalidArgumentError, match=f"process {os.getpid()}@{HOST} "):
            copy_ledger(ledger_target, str(copy), writers_stopped=True)
    assert not copy.exists()
    assert copy_ledger(ledger_target, str(copy)) == 1


def test_a_process_holding_the_file_open_for_writing_is_refused(tmp_path: Path) -> None:
    source, copy = tmp_path / "run.sqlite", tmp_path / "copy.sqlite"
    written_by(source, here(2**22 + 1))  # (no such pid: its writer ended)
    for mode in ("rw", "ro"):
        with subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(source), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as holder:
            try:
                assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
                if mode == "rw":  # (a watcher: no owner in the ledger names it)
                    with pytest.raises(InvalidArgumentError, match=f"in process {holder.pid}@"):
                        copy_ledger(source, str(copy))
                    assert not copy.exists()
                else:  # a reader writes nothing
                    assert copy_ledger(source, str(copy)) == 1
            finally:
                holder.kill()


def test_a_live_writer_of_this_host_is_named(
    ledger_target: LedgerTarget,
    ledger_store: str,
    tmp_path: Path,
    live_process: subprocess.Popen[bytes],
) -> None:
    written_by(ledger_target, here(live_process.pid))
    named_alive(ledger_store, ledger_target, tmp_path / "copy.sqlite", live_process.pid)


def test_a_live_claim_holder_of_this_host_is_named(
    ledger_target: LedgerTarget,
    ledger_store: str,
    tmp_path: Path,
    live_process: subprocess.Popen[bytes],
) -> None:
    written_by(ledger_target, here(2**22 + 1))  # (no such pid: its writer ended)
    with closing(Ledger(ledger_target)) as ledger, ledger.transaction("test") as conn:
        claim = (here(live_process.pid), time.time())
        conn.execute("UPDATE jobs SET claimed_by = ?, claimed_at = ?", claim)
    named_alive(ledger_store, ledger_target, tmp_path / "copy.sqlite", live_process.pid)


def test_a_pid_reused_by_a_process_started_after_the_write_is_no_writer(
    ledger_target: LedgerTarget,
    ledger_store: str,
    tmp_path: Path,
    live_process: subprocess.Popen[bytes],
) -> None:
    written_by(ledger_target, here(live_process.pid), ago=3600)  # (live_process started since)
    live = subprocess.Popen(["sleep", "300"])
    try:
        written_by(ledger_target, here(live.pid))
        named_alive(ledger_store, ledger_target, tmp_path / "copy.sqlite", live.pid)
    finally:
        live.kill()
        live.wait()


def test_owners_of_other_hosts_need_writers_stopped(
    ledger_target: LedgerTarget, tmp_path: Path
) -> None:
    # Six hosts (four named, then how many more), and this host's name in another PID
    # namespace (a container): none can be checked from here.
    others = [f"node-{n}:{100 + n}:0a1b2c3d" for n in range(6)]
    written_by(ledger_target, f"{HOST}/4026500000:77:0a1b2c3d", *others)
    with pytest.raises(InvalidArgumentError) as refused:
        copy_ledger(ledger_target, str(tmp_path / "copy.sqlite"))
    said = str(refused.value)
    shown = f"77@{HOST} (in another PID namespace), 100@node-0, 101@node-1, 102@node-2"
    assert f"written by processes {shown}, 103@node-3 and 2 more, which cannot" in said
    assert "writers_stopped=True" in said and "nothing was copied" in said
    assert not (tmp_path / "copy.sqlite").exists()
    assert copy_ledger(ledger_target, str(tmp_path / "copy.sqlite"), writers_stopped=True) == 7
