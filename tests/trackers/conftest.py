"""The tracker tests share the run's `mlflow server` (``shared_mlflow_server``): each
writes to runs and experiments of its own names."""

from __future__ import annotations

import pytest

from ._mlflow import MlflowServer, alive


@pytest.fixture(scope="module")
def mlflow_server(shared_mlflow_server: MlflowServer) -> MlflowServer:
    return alive(shared_mlflow_server)
