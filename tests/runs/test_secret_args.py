"""Secret model_args (``api_key=``, ``hf_token=``...) never reach a ledger in plaintext.

Issue 20, item 7: the server echoes model_args, secrets included, in every JobInfo.request,
and the ledger stored them as they were, in a file created 0644. Now the values of secret
keys (names containing key, token, secret or password, in any case, as lmms-eval masks
its own logs) are stored as a keyed fingerprint (HMAC-SHA256 under a random key of the
ledger's own), the file and its -wal/-shm are created 0600, and reconciliation compares
fingerprints: an orphaned intent is still adopted, a retry still sends the real secret.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import (
    SECRET_ARG_WORDS,
    SECRET_ARGS_ENV,
    EvalClient,
    EvalRun,
    InvalidArgumentError,
    RetryOnFailure,
)
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._secret_args import is_secret_arg, secret_arg_words

from ..postgres import dump_schema
from ..support import MINIMAL_REQUESTS
from ._fake import BASE, FakeServer
from ._support import LedgerTarget
from .conftest import MakeRunner

pytestmark = MINIMAL_REQUESTS

SECRETS = {
    "api_key": "sk-live-5ecret-0123456789",
    "HF_TOKEN": "hf_5ecretTokenValue0123456789",
    "client_secret": "cl-5ecret-abcdef",
    "db_Password": "pw-5ecret-xyz",
}
ARGS = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct", **SECRETS, "dtype": "bfloat16"}
OOM = "torch.OutOfMemoryError: CUDA out of memory"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


def on_disk(path: LedgerTarget) -> bytes:
    """Every byte of a ledger: the file, its write-ahead log and its shared memory (of a
    PostgreSQL ledger: every row of its schema, as text)."""
    if isinstance(path, str):
        return dump_schema(path).encode()
    parts = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
    return b"".join(part.read_bytes() for part in parts if part.exists())


def assert_no_secret_in(path: LedgerTarget) -> None:
    data = on_disk(path)
    if isinstance(path, str):
        dump = data.decode()
    else:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            dump = "\n".join(conn.iterdump())
    for secret in SECRETS.values():
        assert secret.encode() not in data and secret not in dump, f"{secret} stored"


@pytest.mark.slow
async def test_secret_model_args_are_stored_as_fingerprints(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    runner = make_runner(BASE, summarize=None)
    job = await runner.submit("qwen2_vl", ["mme"], model_args=ARGS, labels={"n": 0})
    assert server.jobs[str(job.job_id)]["request"]["model_args"] == ARGS  # sent as given
    server.run_all()
    (outcome,) = await runner.completed(timeout=5)  # the server's echo was recorded too
    assert_no_secret_in(ledger_target)
    (stored,) = await runner.jobs()
    assert stored.info is not None and stored.info.request.model_args is not None
    args, echoed = stored.request.model_args, stored.info.request.model_args
    assert args is not None and outcome.job.request == stored.request
    assert {k: args[k] for k in ("pretrained", "dtype")} == {"pretrained": ARGS["pretrained"],
                                                            "dtype": "bfloat16"}  # fmt: skip
    for key in SECRETS:
        assert args[key] != SECRETS[key] and args[key].startswith("***")
        assert echoed[key] == args[key]  # one secret, one fingerprint
    history = await runner.history(stored)
    assert "sk-live" not in repr(history)


async def test_a_fingerprint_is_keyed_by_its_ledger(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    stored = []
    for name in ("a.sqlite", "b.sqlite"):
        runner = make_runner(BASE, ledger=tmp_path / name, summarize=None)
        job = await runner.submit("qwen2_vl", ["mme"], model_args=ARGS)
        assert job.request.model_args is not None
        stored.append(job.request.model_args["api_key"])
    assert stored[0] != stored[1]  # the same key in two ledgers: nothing to correlate


@pytest.mark.parametrize("through", ["its path", "a symbolic link"])
def test_the_ledger_and_its_wal_and_shm_are_created_0600(tmp_path: Path, through: str) -> None:
    # Through a link to a file not there yet (current.sqlite -> runs/2026-12.sqlite): before,
    # the ledger was created 0644 (O_EXCL refuses a link; SQLite then made the file).
    path = tmp_path / "run.sqlite"
    opened = path
    if through == "a symbolic link":
        opened = tmp_path / "current.sqlite"
        opened.symlink_to(path)
    umask = os.umask(0o022)
    try:
        with EvalClient("http://127.0.0.1:9") as client, EvalRun(client, opened):
            modes = {
                name: stat.S_IMODE(os.stat(f"{path}{name}").st_mode)
                for name in ("", "-wal", "-shm")
            }
    finally:
        os.umask(umask)
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}


def intent_left_behind(path: Path, server: FakeServer) -> None:
    """What a process killed right after sending left: an intent, and the job it created."""
    body = build_evaluate_request(
        "qwen2_vl", ["mme"], ARGS, None, None, None, None, None, True, False, 1, None
    )
    ledger = Ledger(path)
    ledger.record_intent(
        token="t0", labels={}, request=body, server=BASE,
        owner="a-host-that-is-gone:1:x", snapshot=QueueSnapshot((), 0, 0).to_json(),
    )  # fmt: skip
    ledger.close()
    server.create(body.to_dict())


async def test_an_orphan_with_secrets_is_adopted_by_their_fingerprints(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    path = tmp_path / "run.sqlite"
    intent_left_behind(path, server)
    runner = make_runner(BASE, ledger=path, orphan_after=0, summarize=None)
    assert await runner.harvest() == []
    (adopted,) = await runner.jobs()
    assert adopted.state == "queued" and adopted.job_id in server.jobs
    assert server.requests["POST /evaluate"] == 0
    assert_no_secret_in(path)


async def test_an_orphan_whose_secret_differs_is_not_adopted(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    path = tmp_path / "run.sqlite"
    intent_left_behind(path, server)
    (job,) = server.jobs.values()
    job["request"]["model_args"] = {**ARGS, "api_key": "sk-someone-else-0000"}
    runner = make_runner(BASE, ledger=path, orphan_after=0, summarize=None)
    await runner.harvest()
    (orphan,) = await runner.jobs()
    assert orphan.job_id is None and orphan.state != "queued"


EXTRA_SECRET = "hf_5ecretExtraBody0123456789"


async def test_a_secret_field_of_extra_body_is_stored_as_a_fingerprint(
    server: FakeServer, make_runner: MakeRunner, ledger_target: LedgerTarget
) -> None:
    # An adversarial try: a newer server's field given through extra_body under a secret's
    # name (hf_token) was kept in the ledger as it was, the model_args beside it sealed.
    runner = make_runner(BASE, summarize=None)
    extra = {"hf_token": EXTRA_SECRET, "seed": 7}
    job = await runner.submit("qwen2_vl", ["mme"], model_args=ARGS, extra_body=extra)
    assert server.jobs[str(job.job_id)]["request"]["hf_token"] == EXTRA_SECRET  # sent as given
    server.run_all()
    await runner.completed(timeout=5)  # the server's echo (it holds the field) recorded too
    assert EXTRA_SECRET.encode() not in on_disk(ledger_target)
    (stored,) = await runner.jobs()
    assert stored.info is not None
    for request in (stored.request, stored.info.request):
        extras = request.model_extra or {}
        assert extras["seed"] == 7 and extras["hf_token"].startswith("***hmac-sha256:")


@pytest.mark.parametrize("extra", [{}, {"hf_token": EXTRA_SECRET}], ids=["", "extra_body"])
@pytest.mark.parametrize("resumed", [False, True], ids=["same run", "resumed run"])
async def test_a_retry_sends_the_real_secrets(
    server: FakeServer,
    make_runner: MakeRunner,
    resumed: bool,
    ledger_target: LedgerTarget,
    extra: dict[str, str],
) -> None:
    retry = RetryOnFailure("CUDA out of memory", max_attempts=2)
    runner = make_runner(BASE, retry=retry, summarize=None)
    first = await runner.submit("qwen2_vl", ["mme"], model_args=ARGS, extra_body=extra or None)
    if resumed:  # another process: it has only the ledger (and the server's echo of extras)
        await runner.close()
        runner = make_runner(BASE, retry=retry, summarize=None)
    server.finish(str(first.job_id), "failed", OOM)
    assert await runner.harvest() == []  # sent again
    second = next(j for j in server.jobs.values() if j["job_id"] != first.job_id)
    assert second["request"]["model_args"] == ARGS
    for name, value in extra.items():
        assert second["request"][name] == value
    assert_no_secret_in(ledger_target)
    assert EXTRA_SECRET.encode() not in on_disk(ledger_target)


@pytest.mark.parametrize("how", ["argument", "environment"])
async def test_which_model_args_are_secret_can_be_configured(
    server: FakeServer,
    make_runner: MakeRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    ledger_target: LedgerTarget,
) -> None:
    dsn = "postgres://eval:5ecret-dsn@db/results"
    options = {}
    if how == "argument":
        options["secret_args"] = ("dsn", "key")
    else:
        monkeypatch.setenv("LMMS_EVAL_SECRET_ARGS", "dsn,key")
    runner = make_runner(BASE, summarize=None, **options)
    job = await runner.submit(
        "qwen2_vl", ["mme"], model_args={"pretrained": "x", "DSN": dsn, "api_key": "sk-abcdef"}
    )
    assert job.request.model_args is not None
    assert job.request.model_args["pretrained"] == "x"
    assert dsn.encode() not in on_disk(ledger_target)
    assert b"sk-abcdef" not in on_disk(ledger_target)


def test_the_rule_matches_names_in_any_case_and_can_be_extended_or_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    words = secret_arg_words()
    assert words == SECRET_ARG_WORDS == ("key", "token", "secret", "password")
    for name in ("api_key", "OPENAI_API_KEY", "hf_token", "HF_Token", "client_secret", "Password"):
        assert is_secret_arg(name, words), name
    for name in ("pretrained", "dtype", "max_pixels", "model_version"):
        assert not is_secret_arg(name, words), name
    # The environment adds words (before: it replaced them, so LMMS_EVAL_SECRET_ARGS=dsn
    # stored every api_key and hf_token in clear); an argument, in code, replaces them.
    monkeypatch.setenv(SECRET_ARGS_ENV, " DSN , Key ,")
    assert secret_arg_words() == (*SECRET_ARG_WORDS, "dsn")
    assert secret_arg_words(["Cred"]) == ("cred",)  # an argument wins over the environment
    monkeypatch.setenv(SECRET_ARGS_ENV, " ")
    assert secret_arg_words() == SECRET_ARG_WORDS  # blank: the default


@pytest.mark.parametrize("bad", ["key", [1], [None]])
def test_secret_args_must_be_words(tmp_path: Path, bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="secret_args"):
        EvalRun(EvalClient("http://127.0.0.1:9"), tmp_path / "run.sqlite", secret_args=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "run.sqlite").exists()  # refused before the file is made


# The adversarial tries of the runs CLI and of the trainer callback: a secret under a name
# of no secret's (openai_compatible's base_url with a password; a token as a URL's user;
# a token nested in a mapping) was stored as it was and shown by runs ls/show --json.
HELD = {
    "base_url": "https://alice:URLPASS-5ecret@llm.internal/v1",
    "repo": "https://ghp_5ecretAsUser0123@github.com/org/m.git",
    "auth": {"kind": "bearer", "token": "nested-5ecret-0123456789"},
}
HELD_SECRETS = ("URLPASS-5ecret", "ghp_5ecretAsUser0123", "nested-5ecret-0123456789")


@pytest.mark.parametrize("resumed", [False, True], ids=["same run", "resumed run"])
async def test_secrets_held_in_values_are_sealed_and_sent_again_as_they_were(
    server: FakeServer, make_runner: MakeRunner, ledger_target: LedgerTarget, resumed: bool
) -> None:
    args = {"pretrained": "org/m", "base_url_public": "https://llm.internal/v1", **HELD}
    retry = RetryOnFailure("CUDA out of memory", max_attempts=2)
    runner = make_runner(BASE, retry=retry, summarize=None)
    first = await runner.submit("openai_compatible", ["mme"], model_args=args)
    if resumed:
        await runner.close()
        runner = make_runner(BASE, retry=retry, summarize=None)
    server.finish(str(first.job_id), "failed", OOM)
    assert await runner.harvest() == []  # sent again, with the values as given
    second = next(j for j in server.jobs.values() if j["job_id"] != first.job_id)
    assert second["request"]["model_args"] == args
    data = on_disk(ledger_target)
    for secret in HELD_SECRETS:
        assert secret.encode() not in data, secret
    stored = (await runner.jobs())[0].request.model_args
    assert stored is not None and stored["base_url_public"] == "https://llm.internal/v1"
    assert all(stored[key].startswith("***hmac-sha256:") for key in HELD)


def test_the_command_line_shows_secrets_held_in_values_masked(
    server: FakeServer, tmp_path: Path
) -> None:
    from ..cli.test_commands import invoke

    path = tmp_path / "run.sqlite"
    with EvalClient(BASE) as client, EvalRun(client, path) as run:
        run.submit("openai_compatible", ["mme"], model_args={"pretrained": "org/m", **HELD})
    for args in (["runs", "show", str(path), "1", "--json"], ["runs", "ls", str(path), "--json"]):
        shown = invoke(args)
        assert shown.exit_code == 0, shown.output
        assert '"***"' in shown.stdout
        for secret in HELD_SECRETS:
            assert secret not in shown.stdout, (args, secret)


async def test_a_mapping_of_ordinary_settings_is_stored_as_it_is(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    # The review: a nested max_new_tokens (a "token" word) sealed the whole mapping, which
    # runs show printed *** and a retry could not send once the server forgot it.
    generation = {"max_new_tokens": 16, "temperature": 0, "pad_token": "<pad>"}
    runner = make_runner(BASE, summarize=None)
    job = await runner.submit("qwen2_vl", ["mme"], {"pretrained": "a/b", "gen": generation})
    assert job.request.model_args is not None and job.request.model_args["gen"] == generation


async def test_an_error_repeating_a_secret_held_in_a_value_is_stored_masked(
    server: FakeServer, make_runner: MakeRunner, ledger_target: LedgerTarget
) -> None:
    # The review: the request's held-in-value secrets were sealed, the error text that
    # repeated them (a nested token, a URL's password, a token as a URL's user) was not.
    runner = make_runner(BASE, summarize=None)
    job = await runner.submit("openai_compatible", ["mme"], {"pretrained": "org/m", **HELD})
    told = "invalid credentials: " + ", ".join(HELD_SECRETS)
    server.finish(str(job.job_id), "failed", told)
    (outcome,) = await runner.harvest()
    data = on_disk(ledger_target)
    for secret in HELD_SECRETS:
        assert secret.encode() not in data, secret
    assert outcome.job.info is not None and "invalid credentials" in str(outcome.job.info.error)
