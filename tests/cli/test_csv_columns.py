"""Every CSV the command line writes names each column once and says where each row came
from: ``runs export --csv`` (a column per label, as ``EvalRun.to_pandas()``: one rule) and
``results --csv`` (the results file of each row, as ``--json`` and the table say it).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from .test_commands import invoke


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    return LocalServerConfig(job_duration=0.02, temp_dir_root=tmp_path)


def test_a_label_named_like_a_prefixed_column_gets_a_column_of_its_own(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # Before: labels seq and label.seq both became a column "label.seq" (the CSV's header
    # and to_pandas() alike): a reader by name got one of them, and could not tell which.
    ledger, url = str(tmp_path / "evals.sqlite"), local_server.url
    labelled = "seq=7,label.seq=x,model=m,step=1"
    for labels in (labelled, "step=2"):
        args = ["-m", "qwen2_vl", "-t", "mme", "-a", "pretrained=org/a", "-l", labels, "-q"]
        assert invoke(["runs", "submit", ledger, *args], url).exit_code == 0
    assert invoke(["runs", "watch", ledger, "--poll-interval", "0.02"], url).exit_code == 0
    done = invoke(["runs", "export", ledger, "--csv"], None)
    assert done.exit_code == 0, done.output
    header, *rows = list(csv.reader(io.StringIO(done.stdout)))
    assert len(set(header)) == len(header), header
    first = dict(zip(header, rows[0], strict=True))
    assert (first["seq"], first["label.seq"], first["label.label.seq"]) == ("1", "7", "x")
    assert (first["model"], first["label.model"], first["step"]) == ("org__a", "m", "1")
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        assert list(run.to_pandas().columns) == header  # the same columns, one rule


def test_each_row_of_a_results_csv_names_its_file_as_json_does(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # Before: `results FOLDER --csv` over two jobs of one model printed two rows alike,
    # no column saying which file each came from (--json has "path", the table a heading).
    root, url = tmp_path / "evals", local_server.url
    jobs = []
    for _ in range(2):
        args = ["-m", "qwen2_vl", "-t", "mme", "-a", "pretrained=org/a", "-q", "--wait"]
        done = invoke(["submit", *args, "--output-root", str(root), "--poll-interval", "0.02"], url)
        assert done.exit_code == 0, done.output
        jobs.append(done.stdout.strip())
    for targets in ([str(root)], jobs[:1], [jobs[0], str(root)]):
        as_json = invoke(["results", *targets, "--json"], url)
        paths = [record["path"] for record in json.loads(as_json.stdout)]
        done = invoke(["results", *targets, "--csv"], url)
        assert done.exit_code == 0, done.output
        rows = list(csv.DictReader(io.StringIO(done.stdout)))
        assert [row["path"] for row in rows] == paths, targets  # (one metric per file)
        if targets == [str(root)]:
            assert len(set(paths)) == 2 and rows[0]["model_name"] == rows[1]["model_name"]
