"""Every ``--json`` output is strict JSON (docs: command-line.md): NaN and the infinities
as the text ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, and text that is no UTF-8 (a lone
surrogate a samples file held, valid JSON) escaped, never a traceback.

Before, only ``results --json`` wrote them so: ``compare --json`` printed a bare ``NaN``
(fewer than two documents paired) or ``Infinity``, ``runs export --json`` a NaN metric, and
a lone surrogate in a compared sample's doc_id ended ``compare --json`` with a raw
UnicodeEncodeError (an adversarial try)."""

from __future__ import annotations

import io
import json
import math

import pytest

from lmms_eval_client.cli.output import print_json, print_json_line


def _refuse(constant: str) -> object:
    raise AssertionError(f"not strict JSON: {constant}")


DATA = {
    "mean_diff": math.nan,
    "t_stat": math.inf,
    "rows": [{"value": -math.inf, "stderr": 0.5}],
    "doc_id": "\udc00\x1b]0;x\x07",
    "task": "mmé",
}


@pytest.mark.parametrize("printer", [print_json, print_json_line])
def test_what_json_cannot_say_is_written_as_its_text(
    printer: object, capsys: pytest.CaptureFixture[str]
) -> None:
    if printer is print_json:
        out = io.StringIO()
        print_json(DATA, out)  # type: ignore[arg-type]
        text = out.getvalue()
    else:
        print_json_line(DATA)  # type: ignore[arg-type]
        text = capsys.readouterr().out
        assert text.count("\n") == 1
    text.encode("utf-8")  # what a UTF-8 stdout takes
    read = json.loads(text, parse_constant=_refuse)
    assert read["mean_diff"] == "NaN" and read["t_stat"] == "Infinity"
    assert read["rows"] == [{"value": "-Infinity", "stderr": 0.5}]
    assert read["doc_id"] == "\udc00\x1b]0;x\x07"  # escaped in the text, whole when read
    assert read["task"] == "mmé"


def test_a_csv_export_writes_nan_and_the_infinities_as_results_csv_does() -> None:
    # Before: nan and inf (Python's str), where results --csv writes NaN and Infinity.
    from lmms_eval_client.cli.run_export import ROW_FIELDS, export_csv

    row: dict[str, object] = {field: None for field in ROW_FIELDS}
    row |= {"seq": 1, "key": "k", "labels": {"step": 1}, "value": math.nan, "stderr": math.inf}
    assert export_csv([row]).splitlines()[1].split(",")[3:] == [
        "NaN" if field == "value" else "Infinity" if field == "stderr" else ""
        for field in ROW_FIELDS
    ]


def test_a_tuple_is_written_as_a_list_nan_and_all() -> None:
    # (the review) allow_nan=False refused a NaN in a tuple with a raw ValueError
    out = io.StringIO()
    print_json({"pair": (math.nan, 1.0)}, out)  # type: ignore[dict-item]
    assert json.loads(out.getvalue()) == {"pair": ["NaN", 1.0]}


@pytest.mark.parametrize("printer", [print_json, print_json_line])
def test_what_a_terminal_acts_on_is_escaped_in_json_too(
    printer: object, capsys: pytest.CaptureFixture[str]
) -> None:
    # An adversarial try: --json printed U+202E (reverses what follows) and the C1 control
    # CSI (\x9b, a terminal's escape) as they were; JSON's own escapes keep them whole.
    data = {"error": "ok\u202egnp.exe \x9b2J\u2066x\x7f", "task": "mmé\ttab"}
    printer(data)  # type: ignore[operator]
    text = capsys.readouterr().out
    assert not any(ch in text for ch in "\u202e\x9b\u2066\x7f"), text
    assert "\\u202e" in text and "mmé" in text
    assert json.loads(text) == data
