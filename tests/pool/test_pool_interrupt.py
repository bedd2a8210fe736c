"""Ctrl+C (or the SIGTERM a scheduler sends, which the command line takes as one) during a
sync pool call that asks its servers at once ends the process then, not when the
requests in flight end (the client's timeout: 60 s by default).

Before (the review of the threaded sync pool): ``lmms-eval-client queue`` over two servers
that never answer printed "error: interrupted" and lived 59 s more: the threads asking
the servers were joined at exit.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from ..faults import CONTROL_TIMEOUT, Script, Stall, proxy

SCRIPT = """
import sys
from lmms_eval_client import EvalPool
with EvalPool(sys.argv[1:], timeout=300, max_retries=0) as pool:
    try:
        pool.get_queue_status()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        raise SystemExit(130)
"""


def test_an_interrupted_sync_pool_call_ends_the_process_at_once() -> None:
    with proxy(None, Script(then=Stall())) as one, proxy(None, Script(then=Stall())) as two:
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, one.url, two.url], stdout=subprocess.PIPE, text=True
        )
        try:
            for hung in (one, two):  # both asked: the call is waiting on its threads
                hung.wait_for(bool)
            process.send_signal(signal.SIGINT)
            # Before: it lived until the requests' 300 s ended.
            out, _ = process.communicate(timeout=CONTROL_TIMEOUT)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == 130 and out == "interrupted\n"
