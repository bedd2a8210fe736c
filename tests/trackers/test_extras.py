"""Each tracker is an extra: a missing one is MissingDependencyError naming its pip line."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lmms_eval_client import (
    MissingDependencyError,
    MLflowSink,
    Sink,
    TensorBoardSink,
    WandbSink,
)


@pytest.mark.parametrize(
    ("module", "make", "extra"),
    [
        ("mlflow.tracking", lambda p: MLflowSink(tracking_uri="http://127.0.0.1:1", run_id="r"),
         "mlflow"),
        ("tensorboard.summary.writer.event_file_writer", lambda p: TensorBoardSink(p),
         "tensorboard"),
        ("wandb", lambda p: WandbSink(project="p"), "wandb"),
    ],
)  # fmt: skip
def test_a_missing_tracker_names_its_extra(
    module: str,
    make: Callable[[Path], Sink],
    extra: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(MissingDependencyError) as caught:
        make(tmp_path)
    assert f"pip install 'lmms-eval-client[{extra}]'" in str(caught.value)
    assert caught.value.extra == extra
    assert isinstance(caught.value, ImportError)
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)


def test_importing_the_sinks_loads_no_tracker() -> None:
    code = (
        "import sys\n"
        "from lmms_eval_client import MLflowSink, TensorBoardSink, WandbSink, export_to\n"
        "print(sorted(m for m in ('mlflow', 'tensorboard', 'wandb') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
