"""Every path a user names on this machine is checked by ``check_path``, every name (a
tracker's project, a task to filter by...) by ``check_name`` (issue 19: one rule, written
once).

Before, six copies said it six ways: a results file's path with a NUL was tried on the
disk (ResultsNotReachableError "embedded null byte"), a run's ``metrics(task=...)`` took a
NUL that the table then compared, and most quoted the value whole (a 1 MB str made a 1 MB
message). Now each refuses a non-path (or non-str), "" and a NUL with an
InvalidArgumentError that names the parameter and clips the value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import (
    CallbackSink,
    CheckpointSubmission,
    CheckpointWatcher,
    EvalClient,
    EvalResults,
    EvalRun,
    InvalidArgumentError,
    MarkerFile,
    TensorBoardSink,
    iter_samples,
)

from ..support import BASE

Make = Callable[[Any, Path, Callable[[Any], Any]], object]


def _run(tmp: Path, keep: Callable[[Any], Any]) -> EvalRun:
    run: EvalRun = keep(EvalRun(keep(EvalClient(BASE)), tmp / "r.sqlite"))
    return run


def _watcher(value: object, tmp: Path, keep: Callable[[Any], Any]) -> object:
    what = CheckpointSubmission(model="qwen2_vl", tasks=["mme"])
    return CheckpointWatcher(_run(tmp, keep), value, submit=what)  # type: ignore[arg-type]


PATHS: dict[str, tuple[str, Make]] = {
    "results": ("path", lambda v, tmp, keep: EvalResults.load(v)),
    "samples": ("path", lambda v, tmp, keep: list(iter_samples(v))),
    "tensorboard-log_dir": ("log_dir", lambda v, tmp, keep: keep(TensorBoardSink(v))),
    "watcher-directory": ("directory", _watcher),
    "marker-file": ("MarkerFile name", lambda v, tmp, keep: MarkerFile(v)),
    "evaluate-output_dir": (
        "output_dir",
        lambda v, tmp, keep: keep(EvalClient(BASE)).evaluate(
            "qwen2_vl", ["mme"], {"pretrained": "org/x"}, output_dir=v
        ),
    ),
}

NAMES: dict[str, tuple[str, Make]] = {
    "run-metrics-task": ("task", lambda v, tmp, keep: _run(tmp, keep).metrics(task=v)),
    "run-best-metric": ("metric", lambda v, tmp, keep: _run(tmp, keep).metrics(metric=v)),
    "callback-name": ("name", lambda v, tmp, keep: CallbackSink(print, name=v)),
}

HUGE = "x" * 1_000_000


# Each surface with the name its error gives and what it says the value must be.
SURFACES: dict[str, tuple[str, str, Make]] = {
    **{f"path-{key}": (name, "a non-empty path", make) for key, (name, make) in PATHS.items()},
    **{
        f"name-{key}": (name, "a non-empty str without NUL", make)
        for key, (name, make) in NAMES.items()
    },
}


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize(
    "value", ["", "a\x00b", HUGE + "\x00", 5], ids=["empty", "nul", "huge", "int"]
)
def test_every_path_and_name_refuses_what_is_none_by_name_with_a_short_message(
    surface: str, value: object, tmp_path: Path, closing: Callable[[Any], Any]
) -> None:
    name, must_be, make = SURFACES[surface]
    with pytest.raises(InvalidArgumentError) as info:
        make(value, tmp_path, closing)
    message = str(info.value)
    assert message.startswith(f"{name} must be {must_be}"), message
    assert len(message) < 300


def test_a_path_object_is_a_path(tmp_path: Path) -> None:
    assert MarkerFile(Path("x") / "DONE").name == "x/DONE"
    with pytest.raises(InvalidArgumentError, match="relative to the checkpoint"):
        MarkerFile(tmp_path / "DONE")
