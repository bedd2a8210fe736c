"""The oracle of the local server: raw HTTP, no SDK, against both servers.

``tests/oracle`` sends requests the SDK never sends (it checks its arguments first) with
plain httpx, and compares the answers with what the real lmms-eval 0.7.3 server sends.
Run against the real server it checks the expected values; against the local one
(``lmms_eval_client.testing``) it checks that the local server answers the same. It tests
no SDK code: the SDK's own behaviour is in ``tests/client`` (its ``server`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmms_eval_client.testing import LocalServer, LocalServerConfig

MODEL = "qwen2_vl"
TASKS = ["mme"]
# A job that ends as the real server's jobs do here (no ML stack: exit 1 at import); the
# real server passes these local-server-only keys on to lmms-eval, which fails first.
JOB_ARGS: dict[str, Any] = {"sim_outcome": "crash", "sim_duration": 0.05}


@pytest.fixture(params=["local", pytest.param("real", marks=pytest.mark.real_server)])
def server_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh local server, or the session's real one."""
    if request.param == "real":
        yield request.getfixturevalue("real_server_url")
        return
    config = LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)
    with LocalServer(config) as local:
        yield local.url


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    """Plain httpx, bound to the server."""
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client
