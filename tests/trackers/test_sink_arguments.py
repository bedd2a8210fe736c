"""Every sink refuses what can never work when it is made, with InvalidArgumentError, and
no message quotes a tracking URI's password (an adversarial try)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import CallbackSink, InvalidArgumentError, MLflowSink, TensorBoardSink


def _mlflow(**options: Any) -> Callable[[], object]:
    given = {"tracking_uri": "http://127.0.0.1:9", "experiment": "e", **options}
    return lambda: MLflowSink(**given)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: CallbackSink(print, step_label=["step"]), "step_label"),  # type: ignore[arg-type]
        (lambda: CallbackSink(print, step_label=""), "step_label"),
        (lambda: CallbackSink(5), "callable"),  # type: ignore[arg-type]
        (lambda: CallbackSink(print, metric_name=5), "metric_name"),  # type: ignore[arg-type]
        (_mlflow(step_label=5), "step_label"),
        (_mlflow(tracking_uri=None), "tracking_uri"),
        (_mlflow(experiment=""), "experiment"),
        (_mlflow(run_name=5), "run_name"),
        (_mlflow(tracking_uri="foo://user:s3cretPW@127.0.0.1:5000"), "MLflow cannot use"),
        # The adversarial try of the sinks: a password of '#', '/', '?' or a space, not
        # percent-encoded, was shown in the sink's repr, its errors and the run's warnings
        # (the part before the '#' even in the sink's name, which the ledger keeps).
        (_mlflow(tracking_uri="http://alice:s3cretPW#1@127.0.0.1:9"), "percent-encode"),
        (_mlflow(tracking_uri="http://alice:s3cretPW/1@127.0.0.1:9"), "percent-encode"),
        (_mlflow(tracking_uri="http://alice:s3cretPW?1@127.0.0.1:9"), "percent-encode"),
        (_mlflow(tracking_uri="http://alice:s3cretPW 1@127.0.0.1:9"), "percent-encode"),
        # ... and a raw ValueError (its handler asked urlsplit again)
        (_mlflow(tracking_uri="http://alice:s3cretPW@[::1"), "tracking_uri"),
        # the review: urlsplit's own error quotes the whole authority, password and all
        (_mlflow(tracking_uri="http://alice:s3cretPW\uff1a1@127.0.0.1:9"), "percent-encode"),
    ],
)
@pytest.mark.slow
def test_a_sink_refuses_what_can_never_work(make: Callable[[], object], says: str) -> None:
    # Before: accepted (then a raw TypeError at the first submit, a database file made in
    # the working folder, a raw RestException), or MLflow's own error quoting the password.
    with pytest.raises(InvalidArgumentError, match=says) as refused:
        make()
    assert "s3cretPW" not in f"{refused.value} {pickle.dumps(refused.value)!r}"


def test_tensorboard_refuses_a_nul_in_its_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="log_dir"):
        TensorBoardSink(f"{tmp_path}/a\x00b")


def test_wandb_refuses_what_is_not_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    from lmms_eval_client import WandbSink

    monkeypatch.setenv("WANDB_MODE", "offline")
    with pytest.raises(InvalidArgumentError, match="W&B run"):
        WandbSink("notarun")


def test_mlflows_reason_for_refusing_a_uri_is_kept_without_the_password() -> None:
    # The review of the first version: MLflow's own reason (and its advice) was dropped.
    uri = "foo://user:s3cretPW@127.0.0.1:5000"
    with pytest.raises(InvalidArgumentError) as refused:
        MLflowSink(tracking_uri=uri, experiment="e")
    message = str(refused.value)
    assert "s3cretPW" not in message and "foo://127.0.0.1:5000" in message
    assert "foo" in message.split(": ", 2)[-1]  # what MLflow said of the scheme


@pytest.mark.parametrize(
    "uri",
    [
        "sqlite:////tmp/runs of mine/mlflow.db",  # a space in a path
        "sqlite:////tmp/john.doe@corp.com/mlflow.db",  # an "@" in a path
        "https://alice:p%23w%2F1@mlflow.lan/prefix/a@b",  # encoded; an "@" in the path
        "databricks://profile:prefix",  # a scheme of MLflow's own, not a port
    ],
)
def test_tracking_uris_that_work_are_taken(uri: str) -> None:
    # The review of the first version: paths of a local store with a space or an "@" in
    # them were refused as if they held a password.
    from lmms_eval_client._trackers.mlflow_sink import _check_uri

    _check_uri(uri)
