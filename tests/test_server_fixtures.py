"""The servers the tests start are the ones they talk to (tests/servers.py)."""

from __future__ import annotations

import httpx
import pytest

from lmms_eval_client.testing import LocalServer

from . import servers
from .servers import real_server


@pytest.mark.real_server
@pytest.mark.slow
def test_a_port_taken_by_another_server_meanwhile_is_not_mistaken_for_ours(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between free_port() and the real server's bind, a parallel test's server took the
    # port. Its healthy /health must not pass for ours: ours exits (address in use) and is
    # started again on another port.
    taken = int(local_server.url.rsplit(":", 1)[1])
    picks = iter([taken])
    fresh = servers.free_port
    monkeypatch.setattr(servers, "free_port", lambda: next(picks, None) or fresh())
    with real_server() as server:
        port = int(server.url.rsplit(":", 1)[1])
        assert port != taken
        assert servers.serves_port(server.process, port)
        log = (server.workdir / f"server-{taken}.log").read_text().lower()
        assert "address already in use" in log
        assert httpx.get(f"{server.url}/queue", timeout=10).json()["queue_size"] == 0
    assert not servers.serves_port(server.process, port)
