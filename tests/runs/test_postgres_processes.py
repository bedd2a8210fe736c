"""Eight processes share one PostgreSQL ledger, submitting, receiving and acknowledging,
while the PostgreSQL server is restarted once: every server job is in the ledger once,
every outcome is delivered once, nothing is lost.

A process whose ledger connection dies gets ``LedgerConnectionError`` and does what the
error's documentation says: tries the operation again (a submission under its key, an ack
of what it received); the ledger reconnects by itself."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from lmms_eval_client.testing import LocalServer

from ..postgres import PostgresServer
from ..servers import loopback_http

ROOT = str(Path(__file__).resolve().parents[2])
PROCESSES, JOBS_EACH = 8, 6

# argv: server URL, ledger URL, repository root, go-file, process number, total jobs
_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path[:0] = [os.path.join(sys.argv[3], "src"), os.path.join(sys.argv[3], "generated")]
    from lmms_eval_client import EvalClient, EvalRun, LedgerConnectionError

    url, ledger, _, go, me, total = sys.argv[1:7]
    retries = 0

    def again(call):
        # The ledger's server restarts meanwhile: what the error says to do, try again.
        global retries
        deadline = time.monotonic() + 60
        while True:
            try:
                return call()
            except LedgerConnectionError:
                retries += 1
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # a server coming back: no event to wait on

    received = []
    with EvalClient(url) as client:
        run = again(lambda: EvalRun(client, ledger, poll_interval=0.01))
        print("ready", flush=True)
        while not os.path.exists(go):
            time.sleep(0.001)
        for k in range(JOBS_EACH):
            again(lambda: run.submit(
                "qwen2_vl", ["mme"], model_args={"pretrained": "Qwen/Qwen2-VL-2B-Instruct"},
                key=f"p{me}-{k}", labels={"p": int(me), "k": k},
            ))
        deadline = time.monotonic() + 120
        while True:
            # An intent whose write went unheard is recorded unsent (never sent): its key
            # passed to the next attempt.
            jobs = [job for job in again(run.jobs) if job.state != "unsent"]
            if len(jobs) == int(total) and all(job.harvested for job in jobs):
                break
            if time.monotonic() > deadline:
                left = [(job.seq, job.key, job.state) for job in jobs if not job.harvested]
                sys.exit(f"outcomes left unacknowledged after 120 s: {left}")
            for outcome in again(run.receive):
                again(lambda: run.ack(outcome))
                received.append(outcome.job.seq)
            time.sleep(0.005)
        run.close()
    print(json.dumps({"received": received, "retries": retries}), flush=True)
    """
).replace("JOBS_EACH", str(JOBS_EACH))


def _count_jobs(server: PostgresServer, schema: str) -> int:
    with psycopg.connect(server.url, connect_timeout=5) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}".jobs').fetchone()
    return int(row[0]) if row else 0


@pytest.mark.slow
def test_eight_processes_share_a_ledger_through_a_database_restart(
    local_server: LocalServer, postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    total = PROCESSES * JOBS_EACH
    schema = postgres_url.rsplit("schema=", 1)[1]
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, local_server.url, postgres_url, ROOT, str(go),
             str(n), str(total)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(PROCESSES)
    ]  # fmt: skip
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        go.touch()
        deadline = time.monotonic() + 60
        while _count_jobs(postgres_server, schema) < total // 3:
            assert time.monotonic() < deadline, "the processes submitted nothing"
            time.sleep(0.01)  # other processes: no event to wait on
        old_pid = postgres_server.pid
        postgres_server.restart()  # while they submit, poll, receive and acknowledge
        assert postgres_server.pid != old_pid
        ended = [worker.communicate(timeout=180) for worker in workers]
        failed = [
            f"process {n}: {err}"
            for n, (worker, (_, err)) in enumerate(zip(workers, ended, strict=True))
            if worker.returncode != 0
        ]
        assert not failed, "\n".join(failed)
        results = [json.loads(out.strip().splitlines()[-1]) for out, _ in ended]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    assert sum(result["retries"] for result in results) > 0  # the restart reached them
    received = Counter(seq for result in results for seq in result["received"])
    with psycopg.connect(postgres_server.url) as conn:
        recorded = conn.execute(
            f'SELECT seq, job_id, submission_key, state FROM "{schema}".jobs ORDER BY seq'
        ).fetchall()
        unacknowledged = conn.execute(
            f'SELECT count(*) FROM "{schema}".jobs WHERE harvested_at IS NULL '
            "AND state <> 'unsent'"
        ).fetchone()
    # An intent whose write went unheard (the restart cut the connection while it was
    # committed) is recorded unsent, with no job and no key: the key's next attempt sent it.
    unsent = [row for row in recorded if row[3] == "unsent"]
    assert all(row[1] is None and row[2] is None for row in unsent), unsent
    rows = [row for row in recorded if row[3] != "unsent"]
    keys = [row[2] for row in rows]
    assert sorted(keys) == sorted(f"p{p}-{k}" for p in range(PROCESSES) for k in range(JOBS_EACH))
    assert all(row[3] == "completed" for row in rows), rows
    assert unacknowledged == (0,)
    # Every outcome delivered exactly once, across all processes.
    assert sorted(received) == sorted(row[0] for row in rows)
    assert all(count == 1 for count in received.values()), received
    # Every job the server made is in the ledger once (none sent twice, none unrecorded).
    job_ids = [row[1] for row in rows]
    assert len(set(job_ids)) == total and None not in job_ids
    with loopback_http(local_server.url) as http:
        queue = http.get("/queue").raise_for_status().json()
    assert queue["completed_jobs"] + queue["failed_jobs"] == total  # none sent twice
