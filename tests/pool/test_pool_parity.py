"""EvalPool and AsyncEvalPool have the same surface, and a pool has the client's methods.

Code written for one server runs on many: every public method of the clients exists on the
pools with the same parameters, returning the client's model or a subclass of it. Those about
one job or one server's disk add a keyword-only ``server`` (a job is (server, id): two
servers may hold the same id), None by default.
"""

from __future__ import annotations

import inspect
import typing

import pytest

import lmms_eval_client
from lmms_eval_client import AsyncEvalClient, AsyncEvalPool, EvalClient, EvalPool

from ..client.test_parity import LIFECYCLE, public_methods, public_names

POOL_ONLY = {"adopt", "clients", "jobs", "route", "server_of", "servers"}
TAKES_SERVER = {
    "cancel_job",
    "eval_log",
    "get_job",
    "load_all_results",
    "load_results",
    "merge_checkpoint",
    "wait_for_job",
}

# The client modules import the models they return only for type checkers (they load with
# the first request): their annotations are resolved in the public namespace.
PUBLIC = {name: getattr(lmms_eval_client, name) for name in lmms_eval_client.__all__}


def test_same_public_names() -> None:
    assert public_names(EvalPool) == public_names(AsyncEvalPool)


def test_a_pool_has_every_method_of_a_client() -> None:
    assert public_names(EvalPool) == public_names(EvalClient) - {"base_url"} | POOL_ONLY
    for sync, async_ in LIFECYCLE.items():
        assert hasattr(EvalPool, sync) and hasattr(AsyncEvalPool, async_)


@pytest.mark.parametrize("name", public_methods(EvalPool))
def test_same_signature_and_docstring(name: str) -> None:
    sync_sig = inspect.signature(getattr(EvalPool, name))
    async_sig = inspect.signature(getattr(AsyncEvalPool, name))
    assert sync_sig.parameters == async_sig.parameters
    assert sync_sig.return_annotation == str(async_sig.return_annotation).replace("Async", "")
    # the same words, the sync class names in the sync docstrings (make_sync.py's phrases)
    async_doc = getattr(AsyncEvalPool, name).__doc__ or ""
    assert async_doc, f"AsyncEvalPool.{name} has no docstring"
    assert getattr(EvalPool, name).__doc__ == async_doc.replace("AsyncEval", "Eval")


@pytest.mark.parametrize(
    ("pool", "client"), [(EvalPool, EvalClient), (AsyncEvalPool, AsyncEvalClient)]
)
@pytest.mark.parametrize("name", sorted(set(public_methods(EvalClient))))
def test_the_client_methods_take_the_same_parameters(pool: type, client: type, name: str) -> None:
    pool_params = dict(inspect.signature(getattr(pool, name)).parameters)
    client_params = dict(inspect.signature(getattr(client, name)).parameters)
    if name in TAKES_SERVER:
        extra = pool_params.pop("server")
        assert extra.kind is inspect.Parameter.KEYWORD_ONLY and extra.default is None
    assert list(pool_params.values()) == list(client_params.values())
    pool_returns = typing.get_type_hints(getattr(pool, name), localns=PUBLIC)["return"]
    client_returns = typing.get_type_hints(getattr(client, name), localns=PUBLIC)["return"]
    if pool_returns != client_returns:
        assert issubclass(pool_returns, client_returns), (pool_returns, client_returns)
