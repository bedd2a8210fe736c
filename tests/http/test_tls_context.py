"""Our httpx clients share one TLS context instead of loading the CA bundle each (~50 ms)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest

from lmms_eval_client import APIConnectionError, AsyncEvalClient, EvalClient, InvalidArgumentError
from lmms_eval_client._http import config

from ..servers import serving
from ..support import HEALTH_JSON


@pytest.fixture
def contexts_built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every TLS context built from now on (httpx builds its default one this way)."""
    built: list[Any] = []
    create = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(kwargs.get("cafile") or kwargs.get("capath"))
        return create(*args, **kwargs)

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    monkeypatch.setattr(ssl, "create_default_context", counting)
    config._ssl_context.cache_clear()
    yield built
    config._ssl_context.cache_clear()


async def test_clients_share_one_verifying_context(contexts_built: list[Any]) -> None:
    clients = [EvalClient("https://127.0.0.1:9") for _ in range(5)]
    async_clients = [AsyncEvalClient("https://127.0.0.1:9") for _ in range(5)]
    for client in clients:
        client.close()
    for async_client in async_clients:
        await async_client.close()

    assert len(contexts_built) == 1
    context = config.shared_ssl_context(http2=False)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    # httpcore sets ALPN on the context per connection: http/2 clients get their own.
    assert config.shared_ssl_context(http2=True) is not context


def test_the_ca_environment_is_still_honoured(
    contexts_built: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    default = os.stat(certifi.where())
    bundle = tmp_path / "ca.pem"
    shutil.copyfile(certifi.where(), bundle)
    # as old as certifi's: only the path tells the two apart
    os.utime(bundle, ns=(default.st_atime_ns, default.st_mtime_ns))
    folder = tmp_path / "certs"
    folder.mkdir()

    EvalClient("https://127.0.0.1:9").close()
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    EvalClient("https://127.0.0.1:9").close()
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("SSL_CERT_DIR", str(folder))
    EvalClient("https://127.0.0.1:9").close()
    EvalClient("https://127.0.0.1:9").close()

    assert contexts_built == [certifi.where(), str(bundle), str(folder)]


def test_a_client_made_after_a_ca_rotation_reads_the_new_bundle(
    contexts_built: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    shutil.copyfile(certifi.where(), bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    EvalClient("https://127.0.0.1:9").close()
    EvalClient("https://127.0.0.1:9").close()
    before = bundle.stat()
    # rewritten in place, its timestamps put back (as `cp -p` or `rsync -a` leave them)
    bundle.write_bytes(bundle.read_bytes())
    os.utime(bundle, ns=(before.st_atime_ns, before.st_mtime_ns))
    EvalClient("https://127.0.0.1:9").close()

    assert contexts_built == [str(bundle), str(bundle)]


def test_ssl_key_log_file_is_read_when_a_client_is_made(
    contexts_built: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    EvalClient("https://127.0.0.1:9").close()
    log = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(log))
    EvalClient("https://127.0.0.1:9").close()
    assert config.shared_ssl_context(http2=False).keylog_filename == str(log)
    monkeypatch.delenv("SSLKEYLOGFILE")
    assert config.shared_ssl_context(http2=False).keylog_filename is None
    assert len(contexts_built) == 2


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_unloadable_ca_certificates_are_an_actionable_error(
    contexts_built: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None
) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_text(content)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))

    with pytest.raises(InvalidArgumentError, match=r"\$SSL_CERT_FILE \(.*ca\.pem\) could not"):
        EvalClient("https://127.0.0.1:9")


async def test_a_client_of_a_plain_http_server_loads_no_ca_bundle(
    contexts_built: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # It never makes a TLS connection: a CA bundle, even one that cannot load, is not read.
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    EvalClient("http://127.0.0.1:9").close()
    await AsyncEvalClient("http://[::1]:9").close()

    assert contexts_built == []
    context = config.plaintext_ssl_context()
    assert context.get_ca_certs() == []
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 whose certificate a fresh test CA signed: its URL, and
    that CA's certificate as a PEM file."""
    import trustme

    ca = trustme.CA()
    ca_file = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(HEALTH_JSON).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # quiet: a test's output is the failures

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    with serving(server) as port:
        yield f"https://127.0.0.1:{port}", ca_file


def test_the_shared_context_verifies_a_real_handshake(
    contexts_built: list[Any], https_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca_file = https_server
    # certifi's CAs: the test CA is unknown to them
    with (
        EvalClient(url, max_retries=0) as client,
        pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.health()

    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with EvalClient(url, max_retries=0) as trusting, EvalClient(url, max_retries=0) as second:
        assert trusting.health().status == "healthy"
        assert second.health().status == "healthy"

    assert contexts_built == [certifi.where(), str(ca_file)]


def test_the_plaintext_context_refuses_every_certificate(
    https_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were it ever used for TLS, it trusts no one: even the CA the environment names.
    url, ca_file = https_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with (
        httpx.Client(verify=config.plaintext_ssl_context()) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(f"{url}/health")
