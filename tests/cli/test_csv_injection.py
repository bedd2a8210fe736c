"""Every CSV the command line writes (``runs export --csv``, ``results --csv``) opens in a
spreadsheet program as data, never as formulas: a text cell beginning with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is written with a ``'`` before it (OWASP's rule
against CSV injection); numbers, and text that is a number (``--label lr=-0.5``), are
written as they are.

Before (an adversarial try): a label ``=cmd|' /C calc'!A0``, a key ``@SUM(1+1)``, a task
named ``=1+2`` or an alias ``=HYPERLINK(...)`` were written as they came, and a spreadsheet
program evaluated them. Labels, keys, task names and aliases come from users, servers and
files."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from lmms_eval_client.testing import LocalServer, LocalServerConfig

from .test_commands import invoke

DATA = Path(__file__).resolve().parents[1] / "data" / "real-lmms-eval-0.7.3" / "single"
CALC = "=cmd|' /C calc'!A0"
LINK = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    return LocalServerConfig(job_duration=0.02, temp_dir_root=tmp_path)


def cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (CALC, "'" + CALC),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("plain", "plain"),
        ("a=b", "a=b"),  # (only where a cell begins)
        # text that is a number: a spreadsheet reads it as that number, nothing more
        ("-0.5", "-0.5"),
        ("+3", "+3"),
        ("-1e-05", "-1e-05"),
        ("-Infinity", "-Infinity"),
        ("-", "'-"),
    ],
)
def test_a_text_cell_a_spreadsheet_would_evaluate_is_written_as_text(
    cell: str, written: str
) -> None:
    from lmms_eval_client.cli.run_export import ROW_FIELDS, export_csv

    row: dict[str, object] = {field: None for field in ROW_FIELDS}
    row |= {"seq": 1, "key": cell, "labels": {"note": cell}, "task": cell, "value": -0.25}
    (shown,) = cells(export_csv([row]))
    assert (shown["key"], shown["note"], shown["task"]) == (written,) * 3
    assert shown["value"] == "-0.25"  # a number as it is, negative or not


def test_a_carriage_return_inside_a_cell_starts_no_row_of_its_own() -> None:
    # The csv module wrote "x\r=1+1" unquoted: a reader breaks the row at the \r, and the
    # formula begins a cell of its own.
    from lmms_eval_client.cli.run_export import ROW_FIELDS, export_csv

    row: dict[str, object] = {field: None for field in ROW_FIELDS}
    row |= {"seq": 1, "key": "x\r=1+1", "labels": {"step": 2}, "value": 0.5}
    text = export_csv([row])
    assert text.count("\n") == 2
    header, first = list(csv.reader(io.StringIO(text, newline="")))
    shown = dict(zip(header, first, strict=True))
    assert (shown["key"], shown["step"], shown["value"]) == ("x\r=1+1", "2", "0.5")


def test_a_label_column_named_like_a_formula_is_written_as_text() -> None:
    from lmms_eval_client.cli.run_export import ROW_FIELDS, export_csv

    row: dict[str, object] = {field: None for field in ROW_FIELDS}
    row |= {"seq": 1, "key": None, "labels": {"@SUM(1+1)": -3}, "value": -math.inf}
    header, first = list(csv.reader(io.StringIO(export_csv([row]))))
    assert "'@SUM(1+1)" in header and "@SUM(1+1)" not in header
    shown = dict(zip(header, first, strict=True))
    assert (shown["'@SUM(1+1)"], shown["value"]) == ("-3", "-Infinity")


def test_runs_export_csv_writes_labels_and_keys_as_text(
    local_server: LocalServer, tmp_path: Path
) -> None:
    ledger, url = str(tmp_path / "evals.sqlite"), local_server.url
    args = ["-m", "qwen2_vl", "-t", "mme", "-a", "pretrained=org/x", "-q"]
    labels = ["-l", "step=100", "-l", f"note={CALC}", "-l", "lr=-0.5"]
    done = invoke(["runs", "submit", ledger, *args, *labels, "--key", "@SUM(1+1)"], url)
    assert done.exit_code == 0, done.output
    assert invoke(["runs", "watch", ledger, "--poll-interval", "0.02"], url).exit_code == 0
    done = invoke(["runs", "export", ledger, "--csv"], None)
    assert done.exit_code == 0, done.output
    (first, *_) = cells(done.stdout)
    assert (first["key"], first["note"]) == ("'@SUM(1+1)", "'" + CALC)
    assert (first["step"], first["lr"], first["seq"]) == ("100", "-0.5", "1")


def test_results_csv_writes_task_names_aliases_and_raw_values_as_text(tmp_path: Path) -> None:
    (source,) = DATA.glob("*_results.json")
    document = json.loads(source.read_text())
    metrics = document["results"].pop("e2e_arith")
    metrics["alias"] = LINK
    metrics["odd,none"] = "@SUM(1+1)"  # a value that is no number: kept raw
    metrics["neg,none"] = -0.75
    document["results"]["=1+2"] = metrics
    document["model_name"] = "-2+3"
    path = tmp_path / source.name
    path.write_text(json.dumps(document))
    done = invoke(["results", str(path), "--csv"])
    assert done.exit_code == 0, done.output
    rows = {row["metric"]: row for row in cells(done.stdout)}
    assert (rows["odd"]["task"], rows["odd"]["alias"]) == ("'=1+2", "'" + LINK)
    assert (rows["odd"]["raw"], rows["odd"]["model_name"]) == ("'@SUM(1+1)", "'-2+3")
    assert rows["neg"]["value"] == "-0.75"
    for row in csv.reader(io.StringIO(done.stdout)):
        for cell in row:
            if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                float(cell)  # a number's text, or else a formula
