"""Where the server's files are for this machine: same disk, a path map, fsspec."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from lmms_eval_client import (
    PATH_MAP_ENV,
    EvalResults,
    FileSystem,
    InvalidArgumentError,
    MissingDependencyError,
    ResultsNotReachableError,
    iter_samples,
    load_job_results,
    parse_path_map,
    resolve_server_path,
    results_of_job,
)

from .conftest import DATA, MODEL, SINGLE, SINGLE_SAMPLES, completed_job

# -- the path map ---------------------------------------------------------------------------


def test_parse_pairs() -> None:
    assert parse_path_map("/scratch/evals=/mnt/box/scratch/evals") == {
        "/scratch/evals": "/mnt/box/scratch/evals"
    }
    assert parse_path_map(" /a = /b ; /c=s3://bucket/x?k=v ;") == {
        "/a": "/b",
        "/c": "s3://bucket/x?k=v",  # split at the first "=" only
    }
    assert parse_path_map("") == {}
    assert parse_path_map("   ") == {}


def test_parse_json() -> None:
    assert parse_path_map('{"/odd=dir;x": "/mnt/odd"}') == {"/odd=dir;x": "/mnt/odd"}


@pytest.mark.parametrize(
    "text", ["/a", "/a=/b;/c", "=/b", "/a=", '{"a": 1}', "{not json", '["/a", "/b"]']
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        parse_path_map(text)


@pytest.mark.parametrize(
    ("server", "client"),
    [
        ("/scratch/evals/run/m/x_results.json", "/mnt/box/evals/run/m/x_results.json"),
        ("/scratch/evals", "/mnt/box/evals"),
        ("/scratch/evals-old/x", "/scratch/evals-old/x"),  # whole components only
        ("/scratch/evals/deep/y", "s3://bucket/deep-evals/y"),  # the longest prefix wins
        ("/elsewhere/z", "/elsewhere/z"),
    ],
)
def test_prefixes(server: str, client: str) -> None:
    path_map = {
        "/scratch/evals/": "/mnt/box/evals/",
        "/scratch/evals/deep": "s3://bucket/deep-evals",
    }
    assert resolve_server_path(server, path_map=path_map) == client


def test_the_environment_gives_the_map_and_an_argument_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PATH_MAP_ENV, "/srv=/mnt/env")
    assert resolve_server_path("/srv/x") == "/mnt/env/x"
    assert resolve_server_path("/srv/x", path_map={"/srv": "/mnt/arg"}) == "/mnt/arg/x"
    assert resolve_server_path("/srv/x", path_map={}) == "/srv/x"  # {} turns it off


def test_a_bad_environment_map_is_an_invalid_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PATH_MAP_ENV, "no equals sign")
    with pytest.raises(InvalidArgumentError, match=PATH_MAP_ENV):
        resolve_server_path("/srv/x")


# -- a job's results through the map --------------------------------------------------------


def test_results_of_a_job_through_a_path_map(path_map: dict[str, str], server_disk: Path) -> None:
    by_model = results_of_job(completed_job("group"), path_map=path_map)
    assert list(by_model) == [MODEL]
    results = by_model[MODEL]
    assert results.metric("e2e_suite", "exact_match").is_group
    assert results.server_path == "/srv/evals/group/stub-model/20261202_055527_results.json"
    assert results.path == str(server_disk / "evals/group/stub-model/20261202_055527_results.json")
    # the samples are the ones the job listed, mapped too
    assert results.sample_files == {
        "e2e_arith": str(
            server_disk / "evals/group/stub-model/20261202_055527_samples_e2e_arith.jsonl"
        ),
        "e2e_arith_fewshot": str(
            server_disk / "evals/group/stub-model/20261202_055527_samples_e2e_arith_fewshot.jsonl"
        ),
    }
    assert len(list(results.samples("e2e_arith"))) == 5


def test_results_of_a_job_through_the_environment(
    server_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PATH_MAP_ENV, f"/srv={server_disk}")
    results = load_job_results(completed_job("single"))
    assert results.metric("e2e_arith", "exact_match").value == 0.8


def test_unreachable_without_a_map_says_how_to_fix_it() -> None:
    with pytest.raises(ResultsNotReachableError) as caught:
        load_job_results(completed_job("single"))
    err = caught.value
    server = "/srv/evals/a/stub-model/20261202_055237_results.json"
    assert err.server_path == server
    assert err.client_path == server
    assert err.reason == "no such file"
    message = str(err)
    assert server in message
    assert "path_map={'/srv/evals/a': '/mnt/...'}" in message
    assert PATH_MAP_ENV in message
    assert "fsspec" in message


def test_unreachable_through_a_map_names_both_paths(tmp_path: Path) -> None:
    with pytest.raises(ResultsNotReachableError) as caught:
        load_job_results(completed_job("single"), path_map={"/srv": str(tmp_path / "not-mounted")})
    err = caught.value
    assert err.server_path == "/srv/evals/a/stub-model/20261202_055237_results.json"
    assert err.client_path == str(
        tmp_path / "not-mounted/evals/a/stub-model/20261202_055237_results.json"
    )
    assert err.server_path in str(err) and err.client_path in str(err)
    assert "path_map maps '/srv'" in str(err) and "mounted" in str(err)


def test_a_samples_file_that_is_gone(path_map: dict[str, str], server_disk: Path) -> None:
    results = load_job_results(completed_job("single"), path_map=path_map)
    (server_disk / "evals/a/stub-model/20261202_055237_samples_e2e_arith.jsonl").unlink()
    with pytest.raises(ResultsNotReachableError) as caught:
        results.samples("e2e_arith")
    assert caught.value.server_path == (
        "/srv/evals/a/stub-model/20261202_055237_samples_e2e_arith.jsonl"
    )


# -- fsspec ---------------------------------------------------------------------------------


@pytest.fixture
def memory_disk() -> Iterator[tuple[Any, str]]:
    """fsspec's memory filesystem holding the server's /srv under a unique root."""
    fs = fsspec.filesystem("memory")
    root = f"/mem-{uuid.uuid4().hex}/srv"
    for folder, out in (("single", "evals/a"), ("group", "evals/group")):
        for src in (DATA / folder).iterdir():
            sub = "" if src.name.endswith(".log") else f"/{MODEL}"
            fs.pipe(f"{root}/{out}{sub}/{src.name}", src.read_bytes())
    yield fs, root
    fs.rm(root.rsplit("/", 1)[0], recursive=True)


def test_memory_filesystem_is_a_filesystem(memory_disk: tuple[Any, str]) -> None:
    fs, _ = memory_disk
    assert isinstance(fs, FileSystem)


def test_load_on_a_memory_filesystem(memory_disk: tuple[Any, str]) -> None:
    fs, root = memory_disk
    results = EvalResults.load(
        f"{root}/evals/a/{MODEL}/20261202_055237_results.json", filesystem=fs
    )
    assert results.metric("e2e_arith", "exact_match").value == 0.8
    assert list(results.sample_files) == ["e2e_arith"]  # found beside it, on that filesystem
    assert [s.doc_id for s in results.samples("e2e_arith")] == [0, 1, 2, 3, 4]


def test_a_job_on_a_memory_filesystem_with_a_map(memory_disk: tuple[Any, str]) -> None:
    fs, root = memory_disk
    results = load_job_results(completed_job("group"), path_map={"/srv": root}, filesystem=fs)
    assert results.subtasks("e2e_suite") == ["e2e_arith", "e2e_arith_fewshot"]
    assert results.path is not None and results.path.startswith("memory://")
    assert len(list(results.samples("e2e_arith_fewshot"))) == 5


def test_a_path_map_to_a_url(memory_disk: tuple[Any, str]) -> None:
    _, root = memory_disk
    results = load_job_results(completed_job("single"), path_map={"/srv": f"memory://{root}"})
    assert results.metric("e2e_arith", "exact_match").stderr == pytest.approx(0.2)
    assert sum(s.score("exact_match") or 0.0 for s in results.samples("e2e_arith")) == 4.0


def test_a_url(memory_disk: tuple[Any, str]) -> None:
    _, root = memory_disk
    url = f"memory://{root}/evals/a/{MODEL}/20261202_055237_samples_e2e_arith.jsonl"
    assert len(list(iter_samples(url))) == 5


def test_fsspec_local_filesystem_and_file_urls() -> None:
    local = fsspec.filesystem("file")
    assert EvalResults.load(str(SINGLE), filesystem=local).metric("e2e_arith", "exact_match")
    results = EvalResults.load(SINGLE.as_uri())
    assert results.sample_files == {"e2e_arith": SINGLE_SAMPLES.as_uri()}
    assert len(list(results.samples("e2e_arith"))) == 5


def test_missing_on_a_filesystem(memory_disk: tuple[Any, str]) -> None:
    fs, root = memory_disk
    with pytest.raises(ResultsNotReachableError) as caught:
        load_job_results(completed_job("single"), path_map={"/srv": root + "/gone"}, filesystem=fs)
    assert caught.value.client_path is not None
    assert caught.value.client_path.startswith("memory://")


def test_without_fsspec_a_url_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError) as caught:
        EvalResults.load("sftp://gpu-box/srv/x_results.json")
    err = caught.value
    assert isinstance(err, ImportError)
    assert (err.package, err.extra, err.name) == ("fsspec", "fsspec", "fsspec")
    assert "pip install 'lmms-eval-client[fsspec]'" in str(err)
    # local paths do not need it
    assert EvalResults.load(SINGLE).metric("e2e_arith", "exact_match").value == 0.8


def test_an_unknown_protocol() -> None:
    with pytest.raises((MissingDependencyError, ResultsNotReachableError)):
        EvalResults.load("nosuchproto://host/x_results.json")


class _BrokenFS:
    """A filesystem whose files exist but cannot be opened or read."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        raise self.error

    def exists(self, path: str, **kwargs: Any) -> bool:
        return True

    def isdir(self, path: str) -> bool:
        return False

    def glob(self, path: str, **kwargs: Any) -> list[str]:
        raise ConnectionError("gone")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (PermissionError("nope"), "permission denied"),
        (FileNotFoundError("x"), "no such file"),
        (ConnectionResetError("peer reset"), "ConnectionResetError: peer reset"),
        (RuntimeError("backend exploded"), "RuntimeError: backend exploded"),
    ],
)
def test_filesystem_failures_are_typed(error: Exception, reason: str) -> None:
    with pytest.raises(ResultsNotReachableError) as caught:
        load_job_results(completed_job("single"), filesystem=_BrokenFS(error))
    assert caught.value.reason == reason
    assert caught.value.server_path == "/srv/evals/a/stub-model/20261202_055237_results.json"


def test_a_path_map_given_as_text(path_map: dict[str, str]) -> None:
    text = ";".join(f"{k}={v}" for k, v in path_map.items())
    assert load_job_results(completed_job("single"), path_map=text).tasks == ["e2e_arith"]


@pytest.mark.parametrize("bad", [["/a", "/b"], 3, {"/a": ""}, {"": "/b"}, {"/a": 1}])
def test_bad_path_maps(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="path_map"):
        load_job_results(completed_job("single"), path_map=bad)  # type: ignore[arg-type]


DEEP_MAP = '{"/srv": ' + "[" * 100_000 + "]" * 100_000 + "}"


def test_a_path_map_of_json_nested_too_deeply(monkeypatch: pytest.MonkeyPatch) -> None:
    # An adversarial try: a raw RecursionError from json.loads, by every way a map comes in.
    from lmms_eval_client import EvalClient, parse_path_map

    for call in (
        lambda: parse_path_map(DEEP_MAP),
        lambda: load_job_results(completed_job("single"), path_map=DEEP_MAP),
        lambda: EvalClient("http://127.0.0.1:9", path_map=DEEP_MAP),
    ):
        with pytest.raises(InvalidArgumentError, match="nested too deeply") as caught:
            call()
        assert "path_map" in str(caught.value) or "LMMS_EVAL_PATH_MAP" in str(caught.value)
    monkeypatch.setenv("LMMS_EVAL_PATH_MAP", DEEP_MAP)
    with pytest.raises(InvalidArgumentError, match=r"^LMMS_EVAL_PATH_MAP: .*nested too deeply"):
        load_job_results(completed_job("single"))


@pytest.mark.parametrize("bad", ["sftp", object(), 3])
def test_bad_filesystems(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="fsspec filesystem"):
        EvalResults.load(SINGLE, filesystem=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="fsspec filesystem"):
        load_job_results(completed_job("single"), filesystem=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, 3, b"/x_results.json", ""])
def test_bad_paths(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="path"):
        EvalResults.load(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="path"):
        iter_samples(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("on", ["disk", "memory"])
def test_samples_are_found_beside_a_file_whose_name_holds_glob_characters(
    tmp_path: Path, on: str
) -> None:
    # An adversarial try: the stamp was read as a glob pattern ("run[1]" matches "run1"),
    # so the samples beside run[1]_results.json were not found.
    stamp = "run[1]*?"
    files = {f"{stamp}_results.json": SINGLE, f"{stamp}_samples_e2e_arith.jsonl": SINGLE_SAMPLES}
    if on == "disk":
        folder, fs = tmp_path / "out[x]", None
        folder.mkdir()
        for name, src in files.items():
            (folder / name).write_bytes(src.read_bytes())
        where = str(folder)
    else:
        fs = fsspec.filesystem("memory")
        where = f"/mem-{uuid.uuid4().hex}/out[x]"
        for name, src in files.items():
            fs.pipe(f"{where}/{name}", src.read_bytes())
    results = EvalResults.load(f"{where}/{stamp}_results.json", filesystem=fs)
    assert list(results.sample_files) == ["e2e_arith"]
    assert len(list(results.samples("e2e_arith"))) == 5


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        # outside /srv on the server: not mapped (read as it is, the disk resolving it)
        ("/srv/../etc/passwd", "/srv/../etc/passwd"),
        ("/srv/a/../../srv2/x", "/srv/a/../../srv2/x"),
        ("/srv/..", "/srv/.."),
        ("/srv/a/./b/../x_results.json", "sftp://box/evals/a/x_results.json"),
    ],
)
def test_a_server_path_climbing_out_of_a_mapped_folder_is_not_read_through_its_map(
    server: str, expected: str
) -> None:
    # An adversarial try: "/srv/../etc/passwd" became sftp://box/evals/../etc/passwd, a
    # file outside the mapped remote folder.
    assert resolve_server_path(server, path_map={"/srv": "sftp://box/evals"}) == expected
