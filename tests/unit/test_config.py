"""Construction settings that are not covered elsewhere: HTTP/2 and the default pool."""

from __future__ import annotations

import sys

import pytest

from lmms_eval_client import AsyncEvalClient, EvalClient, InvalidArgumentError
from lmms_eval_client._core import DEFAULT_LIMITS

from ._support import BASE


@pytest.mark.parametrize("cls", [EvalClient, AsyncEvalClient])
def test_http2_without_its_extra_says_how_to_install_it(
    cls: type[EvalClient] | type[AsyncEvalClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "h2", None)  # as if the h2 package were not installed
    with pytest.raises(InvalidArgumentError, match=r"lmms-eval-client\[http2\]"):
        cls(BASE, http2=True)


@pytest.mark.parametrize("cls", [EvalClient, AsyncEvalClient])
async def test_default_pool_is_bounded_and_keeps_its_connections(
    cls: type[EvalClient] | type[AsyncEvalClient],
) -> None:
    client = cls(BASE)
    pool = client._http._transport._pool  # type: ignore[union-attr]
    assert pool._max_connections == DEFAULT_LIMITS.max_connections == 100
    assert pool._max_keepalive_connections == 100
    if isinstance(client, AsyncEvalClient):
        await client.close()
    else:
        client.close()


def test_every_error_class_is_exported() -> None:
    import lmms_eval_client
    from lmms_eval_client import _exceptions

    defined = {
        name
        for name, obj in vars(_exceptions).items()
        if isinstance(obj, type)
        and issubclass(obj, Exception)
        and obj.__module__ == _exceptions.__name__
    }
    assert defined - set(lmms_eval_client.__all__) == set()
