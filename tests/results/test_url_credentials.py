"""Results read through a URL the user gives (a path, a path_map target): its user:password
is never shown (a message, an error's attributes and pickle, repr, ``.path``, the command
line's output), and a server's path stays inside the mapped folder of a web server.

Against a web server on 127.0.0.1 that serves a folder (fsspec's http filesystem).
"""

from __future__ import annotations

import functools
import http.server
import json
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import EvalResults, ResultsNotReachableError, load_job_results
from lmms_eval_client._results.located import SAMPLES_INFIX

from ..cli.test_commands import invoke
from ..servers import refused_url, serving
from .conftest import MODEL, SINGLE, SINGLE_SAMPLES, job_info

SECRET = "hunter2hunter2"
NAME = "20261202_055237_results.json"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A web server of ``tmp_path`` on a free loopback port: its URL with a user:password
    (which it ignores), and the folder. ``out/`` holds a results file, ``private/``
    another, outside ``out/``."""
    for folder in ("out", "private"):
        (tmp_path / folder / MODEL).mkdir(parents=True)
        shutil.copy(SINGLE, tmp_path / folder / MODEL / NAME)
        shutil.copy(SINGLE_SAMPLES, tmp_path / folder / MODEL / SINGLE_SAMPLES.name)
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as port:
        yield f"http://me:{SECRET}@127.0.0.1:{port}", tmp_path


def job_at(server_path: str) -> object:
    return job_info(result={MODEL: {"results": server_path, "samples": []}})


def test_results_read_through_a_url_show_no_password(web_root: tuple[str, Path]) -> None:
    url, _ = web_root
    results = load_job_results(
        job_at(f"/srv/evals/{MODEL}/{NAME}"), path_map={"/srv/evals": f"{url}/out"}
    )
    assert results.tasks == ["e2e_arith"]
    shown = [repr(results), str(results.path), json.dumps(results.sample_files)]
    assert not [text for text in shown if SECRET in text], shown
    assert results.path == f"{url.replace(f'me:{SECRET}', '***')}/out/{MODEL}/{NAME}"


@pytest.mark.parametrize("how", ["path_map", "path"])
def test_a_url_that_cannot_be_read_shows_no_password(how: str) -> None:
    with refused_url() as refused:
        target = refused.replace("http://", f"http://me:{SECRET}@")
        with pytest.raises(ResultsNotReachableError) as caught:
            if how == "path_map":
                load_job_results(job_at(f"/srv/{MODEL}/{NAME}"), path_map={"/srv": target})
            else:
                EvalResults.load(f"{target}/{NAME}")
    error = caught.value
    carried = [str(error), repr(error.args), str(error.client_path), str(error.reason)]
    assert not [text for text in carried if SECRET in text], carried
    assert SECRET.encode() not in pickle.dumps(error)


def test_a_missing_fsspec_backend_shows_no_password() -> None:
    with pytest.raises(Exception) as caught:  # MissingDependencyError (no such backend here)
        EvalResults.load(f"sftp://me:{SECRET}@127.0.0.1:9/x/{NAME}")
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("given", [False, True], ids=["url", "url and filesystem"])
@pytest.mark.parametrize("dots", ["%2e%2e", "%2E%2E", "..%2f.."])
def test_a_servers_percent_encoded_dots_stay_inside_the_mapped_folder(
    web_root: tuple[str, Path], dots: str, given: bool
) -> None:
    """On the server's disk ``%2e%2e`` is a folder's name; sent as it is, the web server
    decoded it as ``..`` and the client read ``private/`` beside the mapped ``out/``
    (an adversarial try found it still so with ``filesystem=`` an http filesystem)."""
    import fsspec

    url, _ = web_root
    filesystem = fsspec.filesystem("http") if given else None
    job = job_at(f"/srv/evals/{dots}/private/{MODEL}/{NAME}")
    with pytest.raises(ResultsNotReachableError) as caught:
        load_job_results(job, path_map={"/srv/evals": f"{url}/out"}, filesystem=filesystem)
    assert "%252" in str(caught.value.client_path)  # "%" sent as a character of a name
    inside = job_at(f"/srv/evals/{MODEL}/{NAME}")  # the mapped folder's own file reads
    assert load_job_results(inside, path_map={"/srv/evals": f"{url}/out"}, filesystem=filesystem)


def test_the_command_lines_results_show_no_password(web_root: tuple[str, Path]) -> None:
    url, _ = web_root
    for output in ([], ["--json"]):
        done = invoke(["results", f"{url}/out/{MODEL}/{NAME}", *output])
        assert done.exit_code == 0, done.output
        assert SECRET not in done.output and "e2e_arith" in done.output


@pytest.mark.parametrize("looked", [False, True])
def test_a_pickle_of_results_read_through_a_url_holds_no_password(
    web_root: tuple[str, Path], looked: bool
) -> None:
    # An adversarial try: repr and .path were masked, the pickle held the URL in clear
    # (the location's path and its fsspec filesystem, kept to read the samples).
    url, _ = web_root
    results = EvalResults.load(f"{url}/out/{MODEL}/{NAME}")
    if looked:  # its samples files found, their locations kept too
        assert list(results.sample_files) == ["e2e_arith"]
        assert next(results.samples("e2e_arith")).doc_id == 0
    blob = pickle.dumps(results)
    assert SECRET.encode() not in blob
    again = pickle.loads(blob)
    assert again == results and again.table() == results.table()  # the data, all of it
    assert again.path == results.path and SECRET not in repr(again)
    with pytest.raises(ResultsNotReachableError) as caught:
        next(again.samples("e2e_arith"))
    error = caught.value
    assert "pickle" in str(error) and "EvalResults.load" in str(error)
    folder = str(results.path).rsplit("/", 1)[0]  # the results file, or its samples file
    assert str(error.client_path).startswith(folder) and SECRET not in str(error)
    assert SECRET.encode() not in pickle.dumps(again)


def test_a_pickle_of_local_results_still_reads_their_samples(tmp_path: Path) -> None:
    shutil.copy(SINGLE, tmp_path / NAME)
    shutil.copy(SINGLE_SAMPLES, tmp_path / SINGLE_SAMPLES.name)
    again = pickle.loads(pickle.dumps(EvalResults.load(tmp_path / NAME)))
    assert again.path == str(tmp_path / NAME)
    assert SAMPLES_INFIX in again.sample_files["e2e_arith"]
    assert next(again.samples("e2e_arith")).doc_id == 0
