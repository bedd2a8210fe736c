"""Who holds an intent or a claim (``host:pid:random``), told apart across PID namespaces.

Containers that share the host's name (host networking, as multi-node training uses) each
number their processes in their own PID namespace: a pid checked in another namespace
names another process, or none. A live trainer in one container was taken for dead by a
run in another, which then sent a key's job again and took its claimed outcome.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from lmms_eval_client._runs.options import new_owner, owner_is_gone

_VERDICT = (
    "import sys; from lmms_eval_client._runs.options import owner_is_gone; "
    "print(owner_is_gone(sys.argv[1]))"
)


def _in_a_pid_namespace_of_its_own(code: str, *args: str) -> str:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs util-linux's unshare")
    done = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 and "Operation not permitted" in done.stderr:
        pytest.skip("unshare needs CAP_SYS_ADMIN here")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_live_process_is_not_taken_for_dead_from_another_pid_namespace() -> None:
    assert _in_a_pid_namespace_of_its_own(_VERDICT, new_owner()) == "False"


def test_a_dead_process_of_this_namespace_is_still_known_dead() -> None:
    code = "from lmms_eval_client._runs.options import new_owner; print(new_owner())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert owner_is_gone(done.stdout.strip())
    assert not owner_is_gone(new_owner())  # this very process
