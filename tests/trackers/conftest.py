"""Real trackers for the sink tests: an `mlflow server` on a free loopback port, and W&B
offline in the test's own folder (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._mlflow import MlflowServer
from ._mlflow import mlflow_server as _mlflow_server


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with _mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture
def mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tracker that is down fails at once instead of after MLflow's minutes of retries.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


@pytest.fixture
def wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """W&B offline in this test's folder: nothing leaves the machine."""
    import wandb

    folder = tmp_path / "wandb-dir"
    folder.mkdir()
    for name, value in {
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(folder),
        "WANDB_SILENT": "true",
        "WANDB_CONSOLE": "off",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
    }.items():
        monkeypatch.setenv(name, value)
    yield folder
    wandb.teardown()  # wandb reads its settings once per process: the next test's are new
