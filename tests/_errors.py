"""The documented class of an error the client raised.

A connection error is also the exact httpx class of its cause (so that
``except httpx.ConnectError`` keeps working), through a subclass made for that pair;
this finds the documented class behind it, for tests that check which one was raised.
"""

from __future__ import annotations

import lmms_eval_client


def documented_type(exc: BaseException) -> type[BaseException]:
    """The first class of exc's MRO that lmms_eval_client exports (else its own type)."""
    for cls in type(exc).__mro__:
        if getattr(lmms_eval_client, cls.__name__, None) is cls:
            return cls
    return type(exc)
