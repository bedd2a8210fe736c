"""Fixtures of the real-completion lane: the real lmms-eval 0.7.3 server completing real jobs.

Session-wide, started on first use and stopped by their PIDs at the end:

* ``chat``: our OpenAI-compatible chat server (``chat_server.py``) on 127.0.0.1;
* ``lane``: the real server (``python -m lmms_eval.launch_server``) from the lane's
  environment (``LMMS_EVAL_CLIENT_REAL_ENV``, built by ``real_lane/build_env.py``), offline,
  with a fresh ``HF_HOME``, the lane's tasks installed in its task index;

and ``connect`` (from the integration suite): each test runs with ``EvalClient`` and with
``AsyncEvalClient``. The real server runs one job at a time, so the tests share it; a test
that holds the chat server (to keep a job running) releases it before it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ..client.conftest import connect
from ..servers import RealServer, real_server, stop_process
from ._lane import (
    ChatServer,
    install_tasks,
    lane_env,
    model_args,
    server_env,
    start_chat_server,
)

__all__ = ["chat", "connect", "lane"]

SERVER_STARTUP_TIMEOUT = 120.0  # the lane's server imports more than the bare one


@dataclass
class Lane:
    """The running lane: the real server's ``url``, the ``chat`` server behind its model."""

    server: RealServer
    chat: ChatServer
    model_args: dict[str, Any]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    """The chat server that lmms-eval's ``openai`` backend talks to."""
    server = start_chat_server(tmp_path_factory.mktemp("chat") / "chat-server.log")
    try:
        yield server
    finally:
        stop_process(server.process)


@pytest.fixture(scope="session")
def lane(chat: ChatServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    """The real server of the lane's environment, its tasks installed."""
    env = lane_env()
    install_tasks(env)
    hf_home = tmp_path_factory.mktemp("hf-home")
    with real_server(
        python=str(env / "bin" / "python"),
        extra_env=server_env(hf_home),
        startup_timeout=SERVER_STARTUP_TIMEOUT,
    ) as server:
        yield Lane(server=server, chat=chat, model_args=model_args(chat))


@pytest.fixture
def released_chat(lane: Lane) -> Iterator[ChatServer]:
    """The chat server, released again after the test whatever happened (for hold())."""
    try:
        yield lane.chat
    finally:
        lane.chat.release()
