"""Every CSV the command line writes names each column once and says where each row came
from: ``runs export --csv`` (a column per label, as ``EvalRun.to_pandas()``: one rule) and
``results --csv`` (the results file of each row, as ``--json`` and the table say it).
"""

from __future__ import annotations

import csv
import io
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
