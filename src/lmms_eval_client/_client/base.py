"""What both clients are apart from I/O: construction, settings, the closed state, repr.

The client classes (``_async/client.py`` and the generated ``_sync/client.py``) call
``_setup`` from their ``__init__`` and add only the methods that send and sleep.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, cast

import httpx

from .._http.config import (
    HttpClientT,
    adopt_base_url,
    build_http_client,
    check_injected_client_options,
    check_injected_client_type,
    check_max_retries,
    httpx_client_kwargs,
    resolve_config,
)
from .._http.responses import check_open
from .._http.retry import RetryPolicy

if TYPE_CHECKING:  # reading results is imported with a client, not with the SDK (_lazy)
    from lmms_eval_api.models import EvaluateRequest

    from .._results.file_access import FileSystem
    from .._results.path_map import PathMap


class ClientBase(Generic[HttpClientT]):
    """Construction and configuration shared by both clients."""

    _http_client_type: ClassVar[type[httpx.Client] | type[httpx.AsyncClient]]
    _http: HttpClientT
    _base_url: str
    _owns_http_client: bool
    _retry: RetryPolicy
    _closed: bool = False
    _output_root: str | None
    _path_map: dict[str, str]
    _filesystem: FileSystem | None
    _http_kwargs: dict[str, Any] | None = None  # how to build ours again (None: injected)
    _max_response_bytes: int

    if TYPE_CHECKING:

        def _attach_http(self, http: HttpClientT) -> None:
            """Send through ``http`` (the I/O mixins: ``_http/_async/_io.py``, ``_sync/_io.py``)."""

    def _setup(
        self,
        base_url: str | None,
        timeout: float | httpx.Timeout | None,
        headers: Mapping[str, str] | None,
        api_key: str | None,
        http_client: HttpClientT | None,
        http2: bool,
        limits: httpx.Limits | None,
        max_retries: int,
        max_response_bytes: int,
    ) -> None:
        """Resolve and check the settings; then send through the httpx client they give."""
        self._max_response_bytes = max_response_bytes
        self._retry = RetryPolicy(check_max_retries(max_retries))
        if http_client is not None:
            check_injected_client_type(type(self).__name__, self._http_client_type, http_client)
            check_injected_client_options(headers, api_key, timeout, http2, limits)
            self._base_url = adopt_base_url(http_client, base_url)
            self._owns_http_client = False
        else:
            config = resolve_config(base_url, timeout, headers, api_key, http2, limits)
            self._base_url = config.base_url
            self._owns_http_client = True
            factory = cast("type[HttpClientT]", self._http_client_type)
            self._http_kwargs = httpx_client_kwargs(config)
            http_client = build_http_client(factory, self._http_kwargs)
        self._attach_http(http_client)

    def _setup_files(
        self,
        output_root: str | os.PathLike[str] | None,
        path_map: PathMap | None,
        filesystem: FileSystem | None,
    ) -> None:
        """Where jobs write (argument > $LMMS_EVAL_OUTPUT_ROOT) and where results are read."""
        from .._results.output_dirs import resolve_output_root
        from .._results.path_map import effective_path_map

        self._output_root = resolve_output_root(output_root)
        self._path_map = effective_path_map(path_map)
        if filesystem is not None:  # the file access code loads when there is a filesystem
            from .._results.file_access import check_filesystem

            filesystem = check_filesystem(filesystem)
        self._filesystem = filesystem

    def _under_output_root(self, body: EvaluateRequest) -> EvaluateRequest:
        """``body``, given a fresh output_dir under the output root when it names none."""
        if body.output_dir is not None or self._output_root is None:
            return body
        from .._results.output_dirs import output_dir_for

        folder = output_dir_for(self._output_root, body.model, body.model_args)
        return body.model_copy(update={"output_dir": folder})

    def _check_open(self) -> None:
        # Before every attempt: close() may come during a retry's backoff (another task).
        check_open(self._closed, self._http)

    @property
    def base_url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return self._base_url

    @property
    def output_root(self) -> str | None:
        """The folder under which ``evaluate()`` gives each job its own output_dir, if any."""
        return self._output_root

    @property
    def path_map(self) -> dict[str, str]:
        """Where the server's folders are mounted here (a copy), for reading results."""
        return dict(self._path_map)

    @property
    def filesystem(self) -> FileSystem | None:
        """The fsspec filesystem results are read through, if one was given."""
        return self._filesystem

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"
