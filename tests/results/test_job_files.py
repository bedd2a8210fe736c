"""A job's files: results per model, refused for jobs without results; its evaluation log."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from lmms_eval_client import (
    InvalidArgumentError,
    ResultsNotReachableError,
    ResultsUnavailableError,
    eval_log_tail,
    load_job_results,
    results_of_job,
)
from lmms_eval_client._report import compare
from lmms_eval_client._results.eval_log import output_dir_of_job
from lmms_eval_client._results.files import job_result_files

from .conftest import MODEL, SINGLE_LOG, completed_job, failed_job, job_info, server_paths


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("queued", "is queued: it has results once it has completed"),
        ("running", "is running: it has results once it has completed"),
        ("cancelled", "was cancelled"),
        ("preempted", "is preempted"),  # a status a newer server may add
    ],
)
def test_a_job_that_did_not_complete_has_no_results(status: str, expected: str) -> None:
    job = job_info(status)
    with pytest.raises(ResultsUnavailableError, match=expected) as caught:
        results_of_job(job)
    assert (caught.value.job_id, caught.value.status) == (job.job_id, status)
    with pytest.raises(ResultsUnavailableError):
        load_job_results(job)


def test_a_failed_job_says_why_in_one_line() -> None:
    job = failed_job()
    with pytest.raises(ResultsUnavailableError) as caught:
        load_job_results(job)
    message = str(caught.value)
    # the line that says why, as wait and status say it (not the error's first line, which
    # on a 0.7.3 server is "Evaluation produced no parsed results. Last lines of ...log:")
    assert message.startswith(
        f"Job {job.job_id} failed, so it has no results: ValueError: Tasks not found: no_such_task."
    )
    assert "Last lines of" not in message
    assert "\n" not in message and "\x1b" not in message
    assert caught.value.status == "failed"
    with pytest.raises(ResultsUnavailableError) as compared:
        compare(job, job)
    assert str(compared.value) == message


@pytest.mark.parametrize("result", [None, {}, {MODEL: {"results": None, "samples": []}}])
def test_a_completed_job_without_result_files(result: object) -> None:
    with pytest.raises(ResultsUnavailableError, match="lists no results file"):
        job_result_files(job_info(result=result))


def test_several_models(path_map: dict[str, str], server_disk: Path) -> None:
    single, single_samples = server_paths("single")
    group, group_samples = server_paths("group")
    job = job_info(
        result={
            "org__model-a": {"results": single, "samples": single_samples},
            "model-b": {"results": group, "samples": group_samples},
        }
    )
    both = results_of_job(job, path_map=path_map)
    assert list(both) == ["org__model-a", "model-b"]
    assert both["org__model-a"].tasks == ["e2e_arith"]
    assert both["model-b"].group_names == ["e2e_suite"]

    with pytest.raises(InvalidArgumentError, match=r"several models.*org__model-a, model-b"):
        load_job_results(job, path_map=path_map)
    assert load_job_results(job, model="model-b", path_map=path_map).group_names == ["e2e_suite"]
    # the name as given in model_args finds lmms-eval's folder name
    assert load_job_results(job, model="org/model-a", path_map=path_map).tasks == ["e2e_arith"]
    with pytest.raises(InvalidArgumentError, match="no results for model 'c'"):
        load_job_results(job, model="c", path_map=path_map)


def test_an_output_dir_several_jobs_wrote_to_gives_the_jobs_own_models_results(
    path_map: dict[str, str],
) -> None:
    # An adversarial try: the real server lists every model folder of the output_dir, so a
    # job whose output_dir an earlier job of another model used "had results for several
    # models" (load_results raised), and `results JOB` showed the other job's metrics as
    # its own. lmms-eval names the job's folder from its model_args: that one is its own.
    single, single_samples = server_paths("single")
    group, group_samples = server_paths("group")
    result = {
        "Qwen__Qwen2-VL-2B": {"results": group, "samples": group_samples},  # an earlier job's
        "org__model-a": {"results": single, "samples": single_samples},
    }
    request = {"model": "m", "tasks": ["e2e_arith"], "model_args": {"pretrained": "org/model-a"}}
    job = job_info(result=result, request=request)
    assert load_job_results(job, path_map=path_map).tasks == ["e2e_arith"]
    assert list(results_of_job(job, path_map=path_map)) == ["org__model-a"]
    with pytest.raises(InvalidArgumentError, match="no results for model 'Qwen/Qwen2-VL-2B'"):
        load_job_results(job, model="Qwen/Qwen2-VL-2B", path_map=path_map)


def test_only_the_chosen_models_file_is_read(path_map: dict[str, str]) -> None:
    single, samples = server_paths("single")
    job = job_info(
        result={
            "good": {"results": single, "samples": samples},
            "gone": {"results": "/srv/evals/nowhere/x_results.json", "samples": []},
        }
    )
    assert load_job_results(job, model="good", path_map=path_map).tasks == ["e2e_arith"]
    with pytest.raises(ResultsNotReachableError):
        results_of_job(job, path_map=path_map)


def test_loading_from_many_threads_at_once(path_map: dict[str, str]) -> None:
    job = completed_job("group")
    seen: list[float] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait()
            results = load_job_results(job, path_map=path_map)
            seen.append(float(results.metric("e2e_suite", "exact_match")))
            seen.append(sum(1.0 for _ in results.samples("e2e_arith")))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(seen) == [0.8] * 8 + [5.0] * 8


# -- the evaluation log ---------------------------------------------------------------------


def test_output_dir_of_a_job() -> None:
    assert output_dir_of_job(completed_job("single")) == "/srv/evals/a"
    # without output_dir in the request: from the result paths
    assert output_dir_of_job(completed_job("single", output_dir=False)) == "/srv/evals/a"
    assert output_dir_of_job(job_info("running")) is None


def test_log_of_a_completed_job(path_map: dict[str, str]) -> None:
    tail = eval_log_tail(completed_job("single"), lines=5, path_map=path_map)
    assert tail == eval_log_tail(SINGLE_LOG, lines=5)
    assert "avg_speed" in tail


def test_log_of_a_failed_job_is_the_one_its_error_names(server_disk: Path) -> None:
    fail = server_disk / "evals" / "fail"
    fail.mkdir(parents=True)
    (fail / "eval-20261201-215603.log").write_bytes(b"\x1b[31mERROR\x1b[0m Tasks not found\n")
    (fail / "eval-20261201-235959.log").write_bytes(b"a later job's log\n")
    tail = eval_log_tail(failed_job(), path_map={"/srv": str(server_disk)})
    assert tail == "ERROR Tasks not found"


def test_log_of_a_running_job_is_the_one_started_with_it(server_disk: Path) -> None:
    out = server_disk / "evals" / "shared"
    out.mkdir(parents=True)
    for stamp, text in [
        ("20261201-100000", "an earlier job"),
        ("20261201-215203", "this job"),
        ("20261202-080000", "a later job"),
    ]:
        (out / f"eval-{stamp}.log").write_text(f"{text}\n")
    request = {"model": "openai", "tasks": ["t"], "output_dir": "/srv/evals/shared"}
    job = job_info("running", request=request, started_at="2026-12-01T21:52:03.110000")
    assert eval_log_tail(job, path_map={"/srv": str(server_disk)}) == "this job"
    # given the folder only: the latest log
    assert eval_log_tail("/srv/evals/shared", path_map={"/srv": str(server_disk)}) == "a later job"


def test_no_log_yet(server_disk: Path) -> None:
    request = {"model": "openai", "tasks": ["t"], "output_dir": "/srv/evals/a"}
    with pytest.raises(ResultsUnavailableError, match="queued"):
        eval_log_tail(job_info("queued", request=request), path_map={"/srv": str(server_disk)})
    empty = server_disk / "evals" / "empty"
    empty.mkdir()
    with pytest.raises(ResultsUnavailableError, match=r"No eval-\*\.log in"):
        eval_log_tail(str(empty))


def test_no_known_output_dir() -> None:
    with pytest.raises(ResultsUnavailableError, match="without output_dir"):
        eval_log_tail(job_info("running"))


def test_log_folder_not_reachable(tmp_path: Path) -> None:
    request = {"model": "openai", "tasks": ["t"], "output_dir": "/srv/evals/x"}
    with pytest.raises(ResultsNotReachableError) as caught:
        eval_log_tail(job_info("running", request=request), path_map={"/srv": str(tmp_path)})
    assert caught.value.server_path == "/srv/evals/x"


@pytest.mark.parametrize("lines", [-1, 1.5, True, "3"])
def test_bad_line_counts(lines: object) -> None:
    with pytest.raises(InvalidArgumentError):
        eval_log_tail(SINGLE_LOG, lines=lines)  # type: ignore[arg-type]


def test_a_long_log_is_read_from_its_end(tmp_path: Path) -> None:
    log = tmp_path / "eval-20261201-000000.log"
    with log.open("w") as f:
        for i in range(300_000):  # about 6 MB: more than a tail ever reads
            f.write(f"line {i} of the evaluation\n")
    assert eval_log_tail(log, lines=3).splitlines() == [
        "line 299997 of the evaluation",
        "line 299998 of the evaluation",
        "line 299999 of the evaluation",
    ]
    # asking for more lines than 1 MiB holds gives what 1 MiB holds, whole lines only
    many = eval_log_tail(log, lines=10**9).splitlines()
    assert 30_000 < len(many) < 300_000
    assert many[0].startswith("line ") and many[0].endswith(" of the evaluation")


def test_a_log_given_by_its_server_path(server_disk: Path) -> None:
    src = server_disk / "evals" / "a" / SINGLE_LOG.name
    moved = server_disk / "evals" / "moved.log"
    shutil.copyfile(src, moved)
    tail = eval_log_tail("/srv/evals/moved.log", lines=1, path_map={"/srv": str(server_disk)})
    assert tail == "|avg_speed         |3.4792|tokens/s|"
