"""What a report draws and reads from what a ledger or a server says (an adversarial try of
the report): a step label given as text, a log file the server's error names, an error
text built to make a regular expression slow."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import (
    EvalClient,
    EvalRun,
    JobInfo,
    ResultsUnavailableError,
    eval_log_tail,
    write_report,
)
from lmms_eval_client._report.data import RunData, _tell_apart, read_run
from lmms_eval_client._report.page import _x, jobs_section
from lmms_eval_client._results.eval_log import eval_log_server_path
from lmms_eval_client._results.redaction import job_secrets
from lmms_eval_client._secret_args import SECRET_ARG_WORDS, Fingerprints, secret_bearing
from lmms_eval_client._text import failure_reason
from lmms_eval_client._visible import ACTING
from lmms_eval_client.testing import LocalServer

from ..support import job_json


def test_a_step_label_given_as_an_integers_text_is_drawn_at_that_step() -> None:
    # `runs submit --label step=1000` stores "1000": it was drawn at its seq, under an
    # axis that says "step" (and the best point's caption named the step).
    assert _x({"step": "1000"}, "step", 1) == 1000.0
    assert _x({"step": " -20 "}, "step", 2) == -20.0
    assert _x({"step": 200}, "step", 3) == 200.0
    assert _x({"step": 0.5}, "step", 4) == 0.5
    assert _x({"step": "late"}, "step", 5) == 5.0  # not a number: its seq
    assert _x({"step": "1_000"}, "step", 6) == 6.0  # (as the trackers read steps)
    assert _x({}, "step", 7) == 7.0


def failed(error: str) -> JobInfo:
    return JobInfo.model_validate(job_json("failed", error=error))


def test_a_log_the_servers_error_names_is_read_only_if_lmms_eval_names_it_so(
    tmp_path: Path,
) -> None:
    # The path after "Last lines of" is the server's text: it made `logs JOB` and the report
    # read (and publish) any .log file of this machine.
    other = tmp_path / "private.log"
    other.write_text("a line of another program's log\n", encoding="utf-8")
    job = failed(f"Evaluation failed with return code 1. Last lines of {other}:\nboom")
    assert eval_log_server_path(job) is None
    with pytest.raises(ResultsUnavailableError):
        eval_log_tail(job)
    log = tmp_path / "eval-20261202-050001.log"
    log.write_text("the evaluation's own line\n", encoding="utf-8")
    job = failed(f"Evaluation failed with return code 1. Last lines of {log}:\nboom")
    assert eval_log_server_path(job) == str(log)
    assert eval_log_tail(job) == "the evaluation's own line"


@pytest.mark.timeout(20)  # before: about 90 s for this 1 MB (quadratic); now milliseconds
def test_an_error_of_repeated_log_level_marks_is_read_in_linear_time() -> None:
    error = "| ERROR |" * 120_000 + "\nRuntimeError: the reason"
    assert failure_reason(error) == "RuntimeError: the reason"
    assert failure_reason("| ERROR |" * 120_000).startswith("| ERROR |")
    line = "2026-12-01 21:56:25 | ERROR    | lmms_eval.evaluator:run:42 - CUDA out of memory"
    assert failure_reason(line) == "CUDA out of memory"


@pytest.mark.parametrize(
    ("name", "secret", "said"),
    [
        ("db_password", "correct horse battery staple", "login rejected: {S}"),
        ("api_key", 'abc"def12345`ghi', "rejected credential {S} for org"),
        ("api_key", "Zq9SuperSecretValue7", "POST body=model%3Dx%26key%3D{S}%26n%3D1 -> 401"),
        ("api_key", "Zq9SuperSecretValue7", "GET https://h/v1/models?key={S}#frag -> 403"),
    ],
    ids=["passphrase", "with-quotes", "url-encoded", "before-a-fragment"],
)
def test_a_secret_the_log_tells_in_other_words_is_masked_in_the_page(
    local_server: LocalServer, tmp_path: Path, name: str, secret: str, said: str
) -> None:
    # The ledger keeps fingerprints of the secrets, found in a failed job's log tail by
    # its words: one of several words, one holding a quote, one inside a URL-encoded body
    # or before a URL's fragment was shown as it was.
    ledger = tmp_path / "run.sqlite"
    args = {"pretrained": "org/m", name: secret, "sim_error": said.format(S=secret)}
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        run.submit("qwen2_vl", ["mme"], model_args=args, output_dir=str(tmp_path / "out"))
        assert len(list(run.as_completed(timeout=60))) == 1
    page = html.unescape(write_report(ledger, tmp_path / "r.html").read_text(encoding="utf-8"))
    assert said.split("{S}")[0].strip() in page  # the tail is there
    assert secret not in page


def test_a_log_word_of_thousands_of_digits_is_no_error() -> None:
    # int() refuses more than 4,300 digits: a raw ValueError out of write_report
    fingerprints = Fingerprints(b"k" * 32, SECRET_ARG_WORDS)
    sealed = {"api_key": fingerprints.of("s3cret-value-1234")}
    tail = f"{'9' * 5000} then s3cret-value-1234"
    assert fingerprints.told_in(tail, sealed) == ("s3cret-value-1234",)


def test_control_and_bidirectional_characters_are_shown_escaped_in_the_page(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # A label or a server's text with ESC, a C0 or C1 control or U+202E was written to the page as
    # it was (the command line shows them escaped): text reordered, a file grep calls binary.
    ledger = tmp_path / "run.sqlite"
    labels = {"step": 1, "note": "a\x1b[2Jb\x01c\u202ed\x9b"}
    args = {"pretrained": "org/m", "sim_error": "boom\x07 \u202eevil"}
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        run.submit("qwen2_vl", ["mme"], model_args=args, labels=labels)
        run.submit("qwen2_vl", ["mme"], model_args={"pretrained": "org/m"}, labels={"step": 2})
        assert len(list(run.as_completed(timeout=60))) == 2
    page = write_report(ledger, tmp_path / "r.html").read_text(encoding="utf-8")
    assert not ACTING.search(page.replace("\n", "").replace("\t", ""))
    assert "a\\x1b[2Jb\\x01c\\u202ed\\x9b" in html.unescape(page)  # shown, escaped


def test_the_jobs_table_tells_a_metrics_filters_apart(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # gsm8k's exact_match under strict-match and flexible-extract read "gsm8k exact_match:
    # 0.31" then "gsm8k exact_match: 0.74": which is which could not be told.
    ledger = tmp_path / "run.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        run.submit("qwen2_vl", ["mme"], model_args={"pretrained": "org/m"}, labels={"step": 1})
        assert len(list(run.as_completed(timeout=60))) == 1
    data = read_run(ledger)
    (row,) = [r for r in data.rows if r.metric == "exact_match"]
    data.rows = [
        row.model_copy(update={"filter": "strict-match", "value": 0.31}),
        row.model_copy(update={"filter": "flexible-extract", "value": 0.74}),
        row.model_copy(update={"metric": "acc", "value": 0.5}),  # (filter "none")
    ]
    table = html.unescape(jobs_section(data))
    assert "mme exact_match (strict-match): 0.31" in table
    assert "mme exact_match (flexible-extract): 0.74" in table
    assert "mme acc: 0.5" in table


def test_a_secret_told_with_other_spacing_or_encoded_is_masked_as_written() -> None:
    # The review: a passphrase told with a tab was found (its words joined by one space)
    # but not masked; a URL-encoded secret of special characters likewise.
    fingerprints = Fingerprints(b"k" * 32, SECRET_ARG_WORDS)
    phrase, special = "correct horse battery staple", "Zq9/Super+Secret@Value7"
    sealed = {"db_password": fingerprints.of(phrase), "api_key": fingerprints.of(special)}
    for said in ("login: correct\thorse battery staple", "x=1,k=(correct horse battery staple)"):
        told = fingerprints.told_in(said, sealed)
        assert told and all(part in said for part in told)
        masked = said
        for part in told:
            masked = masked.replace(part, "[REDACTED]")
        assert "horse" not in masked, masked
    said = "POST body=key%3DZq9%2FSuper%2BSecret%40Value7%26n%3D1"
    told = fingerprints.told_in(said, sealed)
    assert "Zq9%2FSuper%2BSecret%40Value7" in told


def test_an_extra_body_secret_in_a_failed_jobs_error_is_sealed_too() -> None:
    # The review: the ledger's error text masked the model_args secret, not the one of an
    # extra_body field beside it.
    fingerprints = Fingerprints(b"k" * 32, SECRET_ARG_WORDS)
    job = {
        "request": {"model": "m", "tasks": ["t"], "model_args": {"api_key": "sk-model-arg-1"},
                    "hf_token": "hf-extra-body-secret-1"},
        "error": "login failed: hf-extra-body-secret-1 / sk-model-arg-1",
    }  # fmt: skip
    sealed = fingerprints.seal(job)
    assert "hf-extra-body-secret-1" not in str(sealed) and "sk-model-arg-1" not in str(sealed)


def test_only_the_values_of_secret_names_are_searched_and_every_form_is_masked() -> None:
    # The review: max_new_tokens (fingerprinted: "token") made every 4096 of a log tail
    # [REDACTED]; an api_key of extra_body hid the model_args' one of the same name; a
    # secret told both as it is and URL-encoded was masked in one form only.
    fingerprints = Fingerprints(b"k" * 32, SECRET_ARG_WORDS)
    sealed = {
        "max_new_tokens": fingerprints.of("4096"),
        "api_key": fingerprints.of("Zq9/S@vXYZ12"),
    }
    told = fingerprints.told_in("step 4096 of 8192; key Zq9/S@vXYZ12 then Zq9%2FS%40vXYZ12", sealed)
    assert set(told) == {"Zq9/S@vXYZ12", "Zq9%2FS%40vXYZ12"}
    request = {"model": "m", "tasks": ["t"], "model_args": {"api_key": "model-arg-secret-1"},
               "api_key": "extra-body-secret-2"}  # fmt: skip
    fields = secret_bearing(request)
    assert set(job_secrets(fields, SECRET_ARG_WORDS)) >= {
        "model-arg-secret-1",
        "extra-body-secret-2",
    }


def test_the_best_point_is_one_the_chart_draws() -> None:
    # An adversarial try: an infinite value (or one past 1e300) was named "best" in the
    # caption, and no ring was drawn.
    from types import SimpleNamespace

    from lmms_eval_client._report.page import _best
    from lmms_eval_client._report.svg import Point

    rows: Any = [SimpleNamespace(higher_is_better=True)] * 3
    points = [
        Point(1, 0.4, None, "a"),
        Point(2, float("inf"), None, "b"),
        Point(3, 1e308, None, "c"),
    ]
    assert _best(points, rows) == 0


@pytest.mark.parametrize(
    "said",
    ["E2: Zq9QwErTyUiOp4455-2 end", "old_Zq9QwErTyUiOp4455 gone", "x-Zq9QwErTyUiOp4455_old"],
)
def test_a_secret_joined_to_more_by_a_dash_or_underscore_is_masked(said: str) -> None:
    # The adversarial try of the report: the whole key was in the failed job's reason and
    # log tail when the server's text joined it to "-2" or "_old".
    fingerprints = Fingerprints(b"k" * 32, SECRET_ARG_WORDS)
    for secret in ("Zq9QwErTyUiOp4455", "sk-proj-Zq9QwErTy_4455"):
        text = said.replace("Zq9QwErTyUiOp4455", secret)
        told = fingerprints.told_in(text, {"openai_api_key": fingerprints.of(secret)})
        assert secret in told, (text, told)


def test_a_log_tail_of_joined_words_is_searched_in_bounded_time() -> None:
    # The review: runs of words (a passphrase) were split at - and _ too: 20 lines of 200
    # dashed words took 4.4 s, from 0.37 s. Counted in fingerprints made, not seconds.
    fingerprints = Fingerprints(b"k" * 32, SECRET_ARG_WORDS)
    made = []
    real_of = fingerprints.of
    fingerprints.of = lambda value: made.append(value) or real_of(value)  # type: ignore[method-assign]
    line = " ".join(f"ab{i}-cd-ef-gh-ij" for i in range(200))
    fingerprints.told_in("\n".join([line] * 20), {"api_key": real_of("Zq9QwErTyUiOp4455")})
    assert len(made) < 4_000, len(made)  # 1,977; 12,953 before the fix, 1,572 before both


def test_runs_of_one_name_are_told_apart_by_their_paths() -> None:
    def run(path: str, name: str = "evals.sqlite", source: str = "") -> RunData:
        return RunData(name=name, path=path, rows=[], jobs=[], source=source or path)

    runs = [run("/x/a/evals.sqlite"), run("/x/b/evals.sqlite"), run("/y/m.sqlite", "m.sqlite")]
    pg = "postgresql://u:***@h{}/db?options=-csearch_path%3Devals"
    runs += [run(pg.format(1), "evals", pg.format(1)), run(pg.format(2), "evals", pg.format(2))]
    runs += [run("/z/t.sqlite", "t.sqlite"), run("/z/t.sqlite", "t.sqlite")]
    runs += [run("/x/u.sqlite", "u.sqlite"), run("/y/x/u.sqlite", "u.sqlite")]
    _tell_apart(runs)
    assert [r.name for r in runs] == [
        "a/evals.sqlite", "b/evals.sqlite", "m.sqlite", pg.format(1), pg.format(2),
        "/z/t.sqlite (1)", "/z/t.sqlite (2)", "/x/u.sqlite", "y/x/u.sqlite",
    ]  # fmt: skip
