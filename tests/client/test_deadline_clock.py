"""The deadline of a wait is on the real monotonic clock, not the wall clock.

Every other wait test injects a fake clock, so nothing there would notice a client that
measures its deadline with ``time.time``: a wall clock that an NTP step or a manual
change moves forward would end a wait early (and a step back would stretch it).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from lmms_eval_client import AsyncEvalClient, EvalClient
from lmms_eval_client._client.wait import Deadline, WaitedJob, Waiter


def test_the_clients_and_the_waiter_default_to_the_monotonic_clock() -> None:
    assert EvalClient._clock is time.monotonic
    assert AsyncEvalClient._clock is time.monotonic
    waiter = Waiter([WaitedJob("job")], poll_interval=1, timeout=30)
    assert waiter.clock is time.monotonic
    assert Deadline(1.0, 30.0).clock is time.monotonic


# time.time jumps an hour forward at every call, from before the SDK is imported (a
# default argument captures the clock function at import). The waits must not notice.
WALL_CLOCK_JUMPS = textwrap.dedent(
    """
    import time

    real_time = time.time
    jumps = [0]

    def jumping_time():
        jumps[0] += 1
        return real_time() + 3600 * jumps[0]

    time.time = jumping_time

    import asyncio
    import respx
    from lmms_eval_client import AsyncEvalClient, EvalClient
    from lmms_eval_client._client.wait import WaitedJob, Waiter

    JOB = {
        "job_id": "j1", "created_at": "2026-01-01T00:00:00",
        "request": {"model": "qwen2_vl", "tasks": ["mme"]},
        "started_at": None, "completed_at": None, "result": None, "error": None,
        "position_in_queue": None,
    }

    def route(mock):
        return mock.get("/jobs/j1").mock(side_effect=[
            respx.MockResponse(200, json={**JOB, "status": "running"}),
            respx.MockResponse(200, json={**JOB, "status": "running"}),
            respx.MockResponse(200, json={**JOB, "status": "completed", "result": {}}),
        ])

    def no_sleep(seconds):
        pass

    async def no_asleep(seconds):
        pass

    waiter = Waiter([WaitedJob("j1")], poll_interval=1, timeout=30)
    assert waiter.next_delay() == 0.25, "the waiter's default clock follows the wall clock"

    with respx.mock(base_url="http://lmms.test") as mock:
        polls = route(mock)
        with EvalClient("http://lmms.test") as client:
            client._sleep = no_sleep
            done = client.wait_for_job("j1", poll_interval=1, timeout=30, verbose=False)
        assert done.status == "completed" and polls.call_count == 3, "sync"

    async def main():
        async with AsyncEvalClient("http://lmms.test") as client:
            client._sleep = no_asleep
            return await client.wait_for_job("j1", poll_interval=1, timeout=30, verbose=False)

    with respx.mock(base_url="http://lmms.test") as mock:
        polls = route(mock)
        done = asyncio.run(main())
        assert done.status == "completed" and polls.call_count == 3, "async"

    print("unaffected")
    """
)


@pytest.mark.slow
def test_a_wall_clock_jump_does_not_end_a_wait() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WALL_CLOCK_JUMPS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unaffected"
