"""A watcher, a trainer callback or submit_checkpoint over a pool whose servers' clients map
the checkpoint's folder apart (the second adversarial try of pools: each checkpoint was sent
through the first server's path_map, wherever the pool routed it: another server got a path
of another mount) is refused, before anything is sent; maps alike for that folder are fine."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmms_eval_client import (
    CheckpointSubmission,
    CheckpointWatcher,
    EvalClient,
    EvalPool,
    EvalRun,
    InvalidArgumentError,
    submit_checkpoint,
)

from .conftest import write_checkpoint

A, B = "http://127.0.0.1:9", "http://127.0.0.1:11"  # never reached: refused first
WHAT = CheckpointSubmission(model="qwen2_vl", tasks=["mme"])


def test_a_pool_whose_servers_map_paths_apart_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    out = write_checkpoint(tmp_path / "out", 1).parent
    a = EvalClient(A, path_map={"/srv-a": str(tmp_path)})
    b = EvalClient(B, path_map={"/srv-b": str(tmp_path)})
    with a, b, EvalPool([a, b]) as pool, EvalRun(pool, tmp_path / "evals.sqlite") as run:
        with pytest.raises(InvalidArgumentError, match=r"at different paths .*/srv-b/out"):
            CheckpointWatcher(run, out, submit=WHAT)
        with pytest.raises(InvalidArgumentError, match="one mount of it"):
            submit_checkpoint(run, out / "checkpoint-1", submit=WHAT)
        assert run.jobs() == []


def test_a_pool_whose_servers_share_one_path_map_is_watched(tmp_path: Path) -> None:
    out = write_checkpoint(tmp_path / "out", 1).parent
    shared = {"/srv": str(tmp_path)}
    a, b = EvalClient(A, path_map=shared), EvalClient(B, path_map=shared)
    with a, b, EvalPool([a, b]) as pool, EvalRun(pool, tmp_path / "evals.sqlite") as run:
        watcher = CheckpointWatcher(run, out, submit=WHAT)
        assert watcher.checkpoints()[0].name == "checkpoint-1"


def test_maps_that_differ_elsewhere_than_the_checkpoints_folder_are_fine(tmp_path: Path) -> None:
    # The review: each server's own results mount in its client's path_map is a pool as
    # several-servers.md sets it up; the folder watched is mapped alike (here: by none).
    out = write_checkpoint(tmp_path / "out", 1).parent
    a = EvalClient(A, path_map={"/results-a": str(tmp_path / "results-a")})
    b = EvalClient(B, path_map={"/results-b": str(tmp_path / "results-b")})
    with a, b, EvalPool([a, b]) as pool, EvalRun(pool, tmp_path / "evals.sqlite") as run:
        watcher = CheckpointWatcher(run, out, submit=WHAT)
        assert watcher.checkpoints()[0].name == "checkpoint-1"
