"""Secrets stay out of the page however they are named or wherever they are told (an
adversarial try of the report): the log tail of a failed job showed ``db_passwd``,
``auth`` (``Bearer ...``) and ``credentials`` values bare, and the samples viewer an
``api_key=sk-...`` a sample held, which the log tail masks."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun, write_report
from lmms_eval_client._secret_args import SECRET_ARG_WORDS, Fingerprints
from lmms_eval_client.testing import LocalServer

from .conftest import TASKS

SECRETS = {
    "db_passwd": "LEAKPASSWD333",
    "auth": "Bearer LEAKAUTH444",
    "credentials": "LEAKCRED666",
    "header": "Basic TEVBS0JBU0lDNzc3",
}
NEVER = ("LEAKPASSWD333", "LEAKAUTH444", "LEAKCRED666", "TEVBS0JBU0lDNzc3", "sk-LEAKAPI111")


def test_a_failed_jobs_log_tail_masks_credentials_of_any_name(
    local_server: LocalServer, tmp_path: Path
) -> None:
    ledger = tmp_path / "run.sqlite"
    said = "CUDA OOM pw LEAKPASSWD333 auth LEAKAUTH444 cred LEAKCRED666 hdr TEVBS0JBU0lDNzc3"
    args = {"pretrained": "org/m", **SECRETS, "sim_error": said}
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        run.submit("qwen2_vl", TASKS, model_args=args, output_dir=str(tmp_path / "out"))
        assert len(list(run.as_completed(timeout=60))) == 1
    page = html.unescape(write_report(ledger, tmp_path / "r.html").read_text(encoding="utf-8"))
    assert "CUDA OOM pw" in page  # the tail is there
    for secret in NEVER:
        assert secret not in page, secret


def test_the_samples_viewer_masks_secrets_as_the_log_tail_does(
    local_server: LocalServer, tmp_path: Path
) -> None:
    ledger = tmp_path / "run.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        job = run.submit(
            "qwen2_vl", ["mme"], model_args={"pretrained": "org/m"}, limit=4, log_samples=True,
            output_dir=str(tmp_path / "out"), key="step-1",
        )  # fmt: skip
        assert len(list(run.as_completed(timeout=60))) == 1
        info = run.job(job.seq).info
    assert info is not None and info.result is not None
    (files,) = info.result.values()
    path = Path(next(p for p in files.samples if p.endswith("_mme.jsonl")))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = json.loads(lines[0])
    first["input"] = "What is 2+2? api_key=sk-LEAKAPI111"
    first["target"] = "Authorization: Bearer LEAKAUTH444"
    first["filtered_resps"] = ['{"password": "LEAKPASSWD333"}']
    lines[0] = json.dumps(first) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    written = write_report(ledger, tmp_path / "r.html", samples_job="step-1")
    page = html.unescape(written.read_text(encoding="utf-8"))
    assert "What is 2+2? api_key=" in page  # the sample is there
    for secret in NEVER:
        assert secret not in page, secret


GLUED = "Zq7PLAINxVALUEx98765"  # a value of a secret name that no text rule catches


@pytest.mark.parametrize(
    "said",
    [
        "user {S}@db-host:5432",
        "token=@{S}",
        "«{S}»",
        "{S}… (truncated)",
        "{S}@host",
        "@{S}",
        "\uff36\uff21\uff2c{S}",  # fullwidth VAL
        "{S}:8080",
        "„{S}“ rejected",
    ],
)
def test_a_secret_glued_to_punctuation_is_found_in_a_text(said: str) -> None:
    # The adversarial try of the report: the log tail showed a secret model_args value the
    # reason cell masked when the text glued it to @, « », … (words were split at spaces,
    # quotes and ASCII punctuation only, never at @ or Unicode punctuation).
    fingerprints = Fingerprints(b"k" * 32, SECRET_ARG_WORDS)
    text = said.format(S=GLUED)
    told = fingerprints.told_in(text, {"mysecretthing": fingerprints.of(GLUED)})
    assert GLUED in told, (text, told)


def test_a_failed_jobs_log_tail_masks_a_secret_glued_to_punctuation(
    local_server: LocalServer, tmp_path: Path
) -> None:
    ledger = tmp_path / "run.sqlite"
    said = f"boom user {GLUED}@db-host:5432 «{GLUED}» {GLUED}… (truncated) end"
    args = {"pretrained": "org/m", "mysecretthing": GLUED, "sim_error": said}
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        run.submit("qwen2_vl", TASKS, model_args=args, output_dir=str(tmp_path / "out"))
        assert len(list(run.as_completed(timeout=60))) == 1
    page = html.unescape(write_report(ledger, tmp_path / "r.html").read_text(encoding="utf-8"))
    assert "boom user [REDACTED]@db-host:5432" in page  # the tail is there, masked
    assert GLUED not in page
