"""``results --json`` and ``--csv`` keep a value that is no number as the file holds it:
the table showed it, the machine outputs had only ``value: null`` (an adversarial try)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from .test_commands import invoke

DATA = Path(__file__).resolve().parents[1] / "data" / "real-lmms-eval-0.7.3" / "single"


def test_a_value_that_is_no_number_is_kept_raw(tmp_path: Path) -> None:
    (source,) = DATA.glob("*_results.json")
    document = json.loads(source.read_text())
    document["results"]["e2e_arith"].update({"odd,none": "N/A", "obj,none": {"a": 1}})
    path = tmp_path / source.name
    path.write_text(json.dumps(document))
    (shown,) = json.loads(invoke(["results", str(path), "--json"]).stdout)  # one per source
    rows = {row["metric"]: row for row in shown["metrics"]}
    assert (rows["odd"]["value"], rows["odd"]["raw"]) == (None, "N/A")
    assert rows["obj"]["raw"] == {"a": 1}
    assert rows["exact_match"]["raw"] is None and rows["exact_match"]["value"] is not None
    table = list(csv.DictReader(io.StringIO(invoke(["results", str(path), "--csv"]).stdout)))
    cells = {row["metric"]: row["raw"] for row in table}
    assert (cells["odd"], json.loads(cells["obj"]), cells["exact_match"]) == ("N/A", {"a": 1}, "")


def test_a_link_loop_named_without_a_slash_is_a_path_not_a_job_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: `results loop1` was sent to the server as a job id (exit 5, server unreachable).
    monkeypatch.chdir(tmp_path)
    Path("loop1").symlink_to("loop1")
    done = invoke(["results", "loop1"], "http://127.0.0.1:9")
    assert done.exit_code == 6, done.output
    assert "symbolic links" in done.stderr


def test_a_file_without_a_model_name_says_so_in_the_table(tmp_path: Path) -> None:
    (source,) = DATA.glob("*_results.json")
    document = json.loads(source.read_text())
    document.pop("model_name", None)
    document.get("config", {}).pop("model_name", None)
    path = tmp_path / source.name
    path.write_text(json.dumps(document))
    first = invoke(["results", str(path)]).stdout.splitlines()[0]
    assert first.startswith("(the file names no model)"), first  # before: "None  (...)"


def test_a_csv_shows_a_files_terminal_codes_escaped_as_the_table_does(tmp_path: Path) -> None:
    # An adversarial try: `results --csv` sent ESC ]0;...BEL (retitles the window) and
    # ESC [2J (clears the screen) to the terminal, where the table and --json escape them.
    (source,) = DATA.glob("*_results.json")
    document = json.loads(source.read_text())
    document["results"]["e2e_arith"]["alias"] = "\x1b]0;owned\x07\x1b[2Jarith"
    document["model_name"] = "m\x1b[31m"
    path = tmp_path / source.name
    path.write_text(json.dumps(document))
    out = invoke(["results", str(path), "--csv"]).stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;owned\\x07\\x1b[2Jarith" in out and "m\\x1b[31m" in out


def test_a_folder_that_cannot_be_listed_is_one_line_and_exit_6(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An adversarial try: `results /proc/1/map_files` (a folder whose listing is refused)
    # printed a PermissionError traceback, exit 1. (Root reads a chmod-000 folder: the
    # refusal is the scandir's, as the kernel gives it.)
    import os

    folder = tmp_path / "evals"
    folder.mkdir()
    scandir = os.scandir

    def refusing(path: object) -> object:
        if Path(str(path)) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", refusing)
    done = invoke(["results", str(folder)], "http://127.0.0.1:9")
    assert done.exit_code == 6, done.output
    assert "Traceback" not in done.output
    (line,) = done.stderr.strip().splitlines()
    assert str(folder) in line and "permission denied" in line.lower(), line
    assert "cannot be listed" in line, line
