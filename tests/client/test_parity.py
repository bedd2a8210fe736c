"""EvalClient and AsyncEvalClient have the same surface: names, signatures, docstrings."""

from __future__ import annotations

import inspect

import pytest

from lmms_eval_client import AsyncEvalClient, EvalClient

# Each sync lifecycle dunder and its async counterpart.
LIFECYCLE = {"__enter__": "__aenter__", "__exit__": "__aexit__"}


def public_names(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def public_methods(cls: type) -> list[str]:
    return sorted(n for n in public_names(cls) if inspect.isfunction(getattr(cls, n)))


def test_same_public_names() -> None:
    assert public_names(EvalClient) == public_names(AsyncEvalClient)


def test_the_surface_is_complete() -> None:
    # lmms-eval's AsyncEvalClient lacked is_healthy, list_tasks, list_models, merge_checkpoint
    assert set(public_methods(AsyncEvalClient)) == {
        "cancel_job",
        "close",
        "eval_log",
        "evaluate",
        "get_job",
        "get_queue_status",
        "health",
        "is_healthy",
        "list_models",
        "list_tasks",
        "load_all_results",
        "load_results",
        "merge_checkpoint",
        "wait_for_job",
    }


@pytest.mark.parametrize("name", public_methods(EvalClient))
def test_same_signature(name: str) -> None:
    sync_sig = inspect.signature(getattr(EvalClient, name))
    async_sig = inspect.signature(getattr(AsyncEvalClient, name))
    assert list(sync_sig.parameters.values()) == list(async_sig.parameters.values())
    assert sync_sig.return_annotation == async_sig.return_annotation
    assert sync_sig == async_sig


@pytest.mark.parametrize("name", public_methods(EvalClient))
def test_same_docstring(name: str) -> None:
    doc = getattr(EvalClient, name).__doc__
    assert doc, f"EvalClient.{name} has no docstring"
    assert doc == getattr(AsyncEvalClient, name).__doc__


@pytest.mark.parametrize("name", public_methods(EvalClient))
def test_async_methods_are_coroutines(name: str) -> None:
    assert not inspect.iscoroutinefunction(getattr(EvalClient, name))
    assert inspect.iscoroutinefunction(getattr(AsyncEvalClient, name))


@pytest.mark.parametrize(("sync_name", "async_name"), LIFECYCLE.items())
def test_lifecycle_pairs(sync_name: str, async_name: str) -> None:
    assert not inspect.iscoroutinefunction(getattr(EvalClient, sync_name))
    assert inspect.iscoroutinefunction(getattr(AsyncEvalClient, async_name))
    sync_params = list(inspect.signature(getattr(EvalClient, sync_name)).parameters.values())
    async_params = list(inspect.signature(getattr(AsyncEvalClient, async_name)).parameters.values())
    assert sync_params == async_params


def test_same_constructor_signature() -> None:
    sync_params = inspect.signature(EvalClient.__init__).parameters
    async_params = inspect.signature(AsyncEvalClient.__init__).parameters
    assert list(sync_params) == list(async_params)
    for name, sync_param in sync_params.items():
        async_param = async_params[name]
        assert (sync_param.kind, sync_param.default) == (async_param.kind, async_param.default)
        if name == "http_client":
            # the one intended difference: each client takes its own kind of httpx client
            assert sync_param.annotation == "httpx.Client | None"
            assert async_param.annotation == "httpx.AsyncClient | None"
        else:
            assert sync_param.annotation == async_param.annotation, name


def test_base_url_is_positional_like_lmms_eval() -> None:
    for cls in (EvalClient, AsyncEvalClient):
        params = list(inspect.signature(cls.__init__).parameters.values())
        assert [p.name for p in params[1:3]] == ["base_url", "timeout"]
        assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[1:3])
