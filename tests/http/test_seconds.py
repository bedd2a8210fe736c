"""Every setting given in seconds is checked by one function, ``check_seconds`` (issue 19).

Before, five checks disagreed: a wait's and an evaluation run's ``timeout`` took infinity
(and the run's a 400-digit int), a run's ``orphan_after`` took NaN and negative numbers,
and the messages differed. Now each is a finite number, not a bool, up to MAX_TIMEOUT,
refused with an InvalidArgumentError that names the parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmms_eval_client import EvalClient, EvalPool, EvalRun, InvalidArgumentError
from lmms_eval_client._checks import MAX_TIMEOUT, check_seconds
from lmms_eval_client._client.wait import check_poll_interval, check_wait_timeout

from ..support import BASE

BAD = [float("nan"), float("inf"), -float("inf"), -1, MAX_TIMEOUT * 2, 10**400, True, "5", None]


@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize("zero", [False, True])
def test_a_bad_number_of_seconds_is_refused_by_name(value: object, zero: bool) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^poll_interval must be a finite number"):
        check_seconds("poll_interval", value, zero=zero)


def test_zero_only_where_asked_for() -> None:
    assert check_seconds("timeout", 0, zero=True) == 0.0
    with pytest.raises(InvalidArgumentError, match=r"in \(0, 1e\+07\]"):
        check_seconds("timeout", 0)
    assert check_seconds("timeout", 2) == 2.0
    assert isinstance(check_seconds("timeout", 2), float)
    assert check_seconds("timeout", MAX_TIMEOUT) == MAX_TIMEOUT


def test_the_message_says_what_else_is_taken() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_seconds("timeout", float("nan"), zero=True, alternatives="or None to wait forever")
    assert str(info.value) == (
        "timeout must be a finite number of seconds in [0, 1e+07], or None to wait forever; got nan"
    )


# Each surface that takes seconds, with the name its error must give.
SURFACES: dict[str, tuple[str, Callable[[Any, Path, Callable[[Any], Any]], object]]] = {
    "client-timeout": ("timeout", lambda v, _, keep: keep(EvalClient(BASE, timeout=v))),
    "client-timeout-read": (
        "timeout.read",
        lambda v, _, keep: keep(EvalClient(BASE, timeout=httpx.Timeout(5.0, read=v))),
    ),
    "wait-poll_interval": ("poll_interval", lambda v, _, keep: check_poll_interval(v)),
    "wait-timeout": ("timeout", lambda v, _, keep: check_wait_timeout(v)),
    "pool-listing_ttl": ("listing_ttl", lambda v, _, keep: keep(EvalPool([BASE], listing_ttl=v))),
    "pool-recheck_interval": (
        "recheck_interval",
        lambda v, _, keep: keep(EvalPool([BASE], recheck_interval=v)),
    ),
    "run-poll_interval": (
        "poll_interval",
        lambda v, tmp, keep: EvalRun(keep(EvalClient(BASE)), tmp / "r.sqlite", poll_interval=v),
    ),
    "run-orphan_after": (
        "orphan_after",
        lambda v, tmp, keep: EvalRun(keep(EvalClient(BASE)), tmp / "r.sqlite", orphan_after=v),
    ),
    "run-wait-timeout": (
        "timeout",
        lambda v, tmp, keep: keep(EvalRun(keep(EvalClient(BASE)), tmp / "r.sqlite")).wait(
            timeout=v
        ),
    ),
}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1], ids=repr)
@pytest.mark.parametrize("surface", list(SURFACES))
def test_every_setting_in_seconds_refuses_nan_infinity_and_negatives(
    surface: str, value: float, tmp_path: Path, closing: Callable[[Any], Any]
) -> None:
    name, make = SURFACES[surface]
    with pytest.raises(InvalidArgumentError) as info:
        make(value, tmp_path, closing)
    assert str(info.value).startswith(f"{name} must be a finite number of seconds in ")
