"""``results`` over several targets and folder trees (issue 21): one table or CSV.

The jobs are submitted with an output root, as a run does: each job's files are then two
levels below the root (``<root>/<job folder>/<model>/..._results.json``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client.testing import LocalServer, LocalServerConfig

from .test_commands import invoke

MODELS = ("org/model-a", "org/model-b")


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str], str]]:
    """Two completed jobs under one output root: the root, their ids, the server's URL."""
    root = tmp_path_factory.mktemp("results-many")
    evals = root / "evals"
    config = LocalServerConfig(job_duration=0.02, temp_dir_root=root)
    with LocalServer(config) as server:
        ids = []
        for model in MODELS:
            submit = ["submit", "-m", "qwen2_vl", "-t", "mme", "-a", f"pretrained={model}"]
            wait = ["--output-root", str(evals), "--wait", "--poll-interval", "0.02", "-q"]
            done = invoke([*submit, *wait], server.url)
            assert done.exit_code == 0, done.output
            ids.append(done.stdout.strip())
        yield evals, ids, server.url


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_output_root_is_searched_down_its_tree(jobs: tuple[Path, list[str], str]) -> None:
    """Before: "evals holds no *_results.json file (nor do its sub-folders)", exit 1."""
    root, _, url = jobs
    done = invoke(["results", str(root), "--csv"], url)
    assert done.exit_code == 0, done.output
    rows = _csv(done.stdout)
    assert {row["model_name"] for row in rows} == {"org/model-a", "org/model-b"}
    assert "source" not in rows[0]  # one target: no column to tell targets apart


def test_a_huge_max_depth_stops_where_the_tree_ends(jobs: tuple[Path, list[str], str]) -> None:
    # Before: it counted to --max-depth over empty levels: 10**8 took 6 s, 10**20 forever.
    from lmms_eval_client.cli.result_commands import results_files_in

    root, _, _ = jobs
    assert len(results_files_in(root, max_depth=10**20)) == 2


def test_several_jobs_make_one_csv_with_a_source_column(
    jobs: tuple[Path, list[str], str],
) -> None:
    """Before: typer refused the second job id ("Got unexpected extra argument"), exit 2."""
    _, ids, url = jobs
    done = invoke(["results", *ids, "--csv"], url)
    assert done.exit_code == 0, done.output
    rows = _csv(done.stdout)
    assert [row["source"] for row in rows] == ids
    assert [row["model_name"] for row in rows] == ["org/model-a", "org/model-b"]


def test_a_job_and_a_folder_in_one_json_document(jobs: tuple[Path, list[str], str]) -> None:
    root, ids, url = jobs
    done = invoke(["results", ids[0], str(root), "--json"], url)
    assert done.exit_code == 0, done.output
    records = json.loads(done.stdout)
    assert [record["source"] for record in records] == [ids[0], str(root), str(root)]
    table = invoke(["results", ids[0], str(root)], url)
    assert table.exit_code == 0 and f"{ids[1]}" not in table.stdout
    assert table.stdout.count(f"{root}: ") == 2 and f"{ids[0]}: org/model-a" in table.stdout


def test_too_many_files_is_a_usage_error_saying_which_bound(
    jobs: tuple[Path, list[str], str],
) -> None:
    root, _, url = jobs
    done = invoke(["results", str(root), "--max-files", "1"], url)
    assert done.exit_code == 2
    assert "more than 1 results files" in done.stderr and "--max-files" in done.stderr


def test_files_below_the_depth_bound_are_not_read_and_it_says_so(
    jobs: tuple[Path, list[str], str],
) -> None:
    root, _, url = jobs
    done = invoke(["results", str(root), "--max-depth", "1"], url)
    assert done.exit_code == 1
    assert "no *_results.json" in done.stderr and "raise --max-depth" in done.stderr
    deeper = invoke(["results", str(root.parent), "--max-depth", "3", "--csv"], url)
    assert deeper.exit_code == 0 and len(_csv(deeper.stdout)) == 2, deeper.output
