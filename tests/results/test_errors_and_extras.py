"""The results errors (picklable, in the tree), pandas, and log redaction."""

from __future__ import annotations

import copy
import pickle
import sys

import pytest

from lmms_eval_client import (
    EvalResults,
    LmmsEvalError,
    MetricNotFoundError,
    MissingDependencyError,
    ResultsError,
    ResultsFormatError,
    ResultsNotReachableError,
    ResultsTooLargeError,
    ResultsUnavailableError,
    SamplesNotFoundError,
)
from lmms_eval_client._results.redaction import redact_secrets

from .conftest import GROUP, SINGLE

ERRORS = [
    ResultsError("base", path="/x"),
    ResultsNotReachableError(
        "not here", server_path="/srv/a", client_path="/mnt/a", reason="no such file"
    ),
    ResultsFormatError("bad line", path="/x.jsonl", line=7, reason="not JSON"),
    ResultsTooLargeError("too long", path="/x.jsonl", limit=1024, line=3),
    ResultsUnavailableError("no results", job_id="j1", status="failed"),
    MetricNotFoundError(
        "no metric", task="t", name="acc", filter="none", available=["t: em,none"], path="/x"
    ),
    SamplesNotFoundError("no samples", task="t", available=["u"], path="/x"),
    MissingDependencyError("pip install it", package="pandas", extra="pandas"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("copier", [lambda e: pickle.loads(pickle.dumps(e)), copy.deepcopy])
def test_round_trips(error: Exception, copier: object) -> None:
    again = copier(error)  # type: ignore[operator]
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert again.args == error.args
    assert vars(again) == vars(error)


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_in_the_tree(error: Exception) -> None:
    assert isinstance(error, LmmsEvalError)


def test_builtin_bases() -> None:
    assert issubclass(ResultsFormatError, ValueError)
    assert issubclass(MetricNotFoundError, KeyError)
    assert issubclass(SamplesNotFoundError, KeyError)
    assert issubclass(MissingDependencyError, ImportError)
    for cls in (
        ResultsNotReachableError,
        ResultsFormatError,
        ResultsTooLargeError,
        ResultsUnavailableError,
    ):
        assert issubclass(cls, ResultsError)
    # a KeyError's message reads as a message, not as a quoted repr
    assert str(MetricNotFoundError("no metric 'x'\nhere")) == "no metric 'x'\nhere"


@pytest.mark.slow
def test_to_pandas() -> None:
    frame = EvalResults.load(GROUP).to_pandas()
    assert list(frame.columns) == [
        "model",
        "task",
        "alias",
        "is_group",
        "metric",
        "filter",
        "value",
        "stderr",
        "higher_is_better",
        "n_shot",
        "n_samples",
    ]
    assert frame["task"].tolist() == ["e2e_suite", "e2e_arith", "e2e_arith_fewshot"]
    assert frame["is_group"].tolist() == [True, False, False]
    assert frame["value"].tolist() == [0.8, 0.8, 0.8]
    assert frame["stderr"].round(4).tolist() == [0.1414, 0.2, 0.2]
    assert str(frame["n_shot"].dtype) == "Int64"
    assert frame["n_shot"].isna().tolist() == [True, False, False]  # a group has no n-shot
    assert frame["n_samples"].tolist()[1:] == [5, 5]
    assert set(frame["model"]) == {"stub-model"}


def test_to_pandas_of_no_metrics_has_the_columns() -> None:
    frame = EvalResults.from_json('{"results": {}}').to_pandas()
    assert len(frame) == 0 and "value" in frame.columns


def test_to_pandas_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    results = EvalResults.load(SINGLE)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingDependencyError) as caught:
        results.to_pandas()
    assert (caught.value.package, caught.value.extra) == ("pandas", "pandas")
    assert "pip install 'lmms-eval-client[pandas]'" in str(caught.value)
    assert isinstance(caught.value, ImportError)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("openai (model=m,base_url=http://h/v1,api_key=sk-e2e-stub,timeout=30)", "sk-e2e-stub"),
        ("{'api_key': 'abc123secret', 'model': 'm'}", "abc123secret"),
        ('{"hf_token": "hf_abcdefghijklmnopqrstuvwx"}', "hf_abcdefghijklmnopqrstuvwx"),
        ("Authorization: Bearer abcdefghijkl.mnop", "abcdefghijkl.mnop"),
        ("using key sk-proj-ABCDEFGH12345678 now", "sk-proj-ABCDEFGH12345678"),
        ("password=hunter2 user=me", "hunter2"),
        # a failed job's error, as the report shows it (before: each of these was kept)
        ("connect to http://bob:PGPASSWORD9@db:5432 refused", "PGPASSWORD9"),
        ("postgresql://carol:PW@42@db/evals: no such schema", "PW@42"),
        ("Authorization: Basic Ym9iOnNlY3JldA==", "Ym9iOnNlY3JldA=="),
        ("x-api-key: k3y-abcdef, then", "k3y-abcdef"),
        ("hub token: tok_abcdef123", "tok_abcdef123"),
        # shapes an adversarial try found kept (the names end with a secret word, as the
        # ledger's rule for model_args: SECRET_ARG_WORDS)
        ("openai (model=m,access_key=AKIAVERYSECRET1)", "AKIAVERYSECRET1"),
        ("aws_secret_access_key=wJalrSECRET2 next", "wJalrSECRET2"),
        ('{\\"api_key\\": \\"SECRETJSON3\\", \\"model\\": \\"x\\"}', "SECRETJSON3"),
        ("--api-key SECRETCLI4 --hf-token SECRETCLI5", "SECRETCLI4"),
        ("--api-key SECRETCLI4 --hf-token SECRETCLI5", "SECRETCLI5"),
        ("--password=SECRETFLAG6 --tasks mme", "SECRETFLAG6"),
        ("api-key=SECRETHYPHEN6 then", "SECRETHYPHEN6"),
        ('password = "SECRET QUOTED8" rest', "SECRET QUOTED8"),
        ("model_args: pretrained=x,auth_token='SECRETSQ9'", "SECRETSQ9"),
        # the review's: quoted after a flag, the colon form of any secret name
        ("--api-key 'SECRETQF10' --x", "SECRETQF10"),
        ("access_key: AKIACOLON11", "AKIACOLON11"),
        ("api_key: 'SECRETYAML12'", "SECRETYAML12"),
    ],
)
def test_redaction(text: str, secret: str) -> None:
    redacted = redact_secrets(text)
    assert secret not in redacted
    assert "[REDACTED]" in redacted or "***@" in redacted


def test_redaction_leaves_the_rest() -> None:
    text = "max_new_tokens=16, Total gen tokens: 5, model=stub-model, total_tokens=66"
    assert redact_secrets(text) == text
    kept = "--tasks mme --max-new-tokens 64 KeyError: 'step' tokenizer=fast"
    assert redact_secrets(kept) == kept
    # the review: a plain key and a tokenizer's tokens are no secrets
    kept = 'sort_key=doc_id missing key=answer {"key": "mme"} hotkey=F5 unk_token=\'<unk>\''
    assert redact_secrets(kept) == kept


@pytest.mark.timeout(60)  # before the fix, "a-" * 100_000 took about 270 s (quadratic)
@pytest.mark.parametrize("unit", ["a-", "a.", "key-", "--a", '"a', "a:b@", "x-api-key:"])
def test_redaction_reads_a_hostile_line_once(unit: str) -> None:
    # A server's log line or error of "a-a-a-...": the header rule started a name at every
    # word boundary and scanned to its end, quadratic in the line (an adversarial try).
    text = unit * (200_000 // len(unit))
    assert isinstance(redact_secrets(text), str)  # (the timeout is the assertion)


def test_local_reading_imports_neither_fsspec_nor_pandas() -> None:
    import subprocess

    code = (
        "import sys\n"
        "import lmms_eval_client\n"
        "from lmms_eval_client._results.eval_log import eval_log_tail\n"
        "from lmms_eval_client._results.results import EvalResults\n"
        f"r = EvalResults.load({str(SINGLE)!r})\n"
        "assert len(list(r.samples('e2e_arith'))) == 5\n"
        "r.table()\n"
        f"eval_log_tail({str(SINGLE.parent)!r})\n"
        "print(sorted(m for m in ('fsspec', 'pandas', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
