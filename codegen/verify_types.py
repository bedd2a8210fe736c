"""Fail when pyright --verifytypes scores the public API of lmms_eval_client below the bar.

pyright counts the exported symbols whose types a checker knows without guessing (every
attribute annotated, no inferred return type): it is what users' IDEs see. The run prints
pyright's symbols that lack a known type, so a drop is easy to fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MINIMUM = 0.95


def main() -> int:
    pyright = Path(sys.executable).parent / "pyright"
    env = {**os.environ, "PATH": f"{pyright.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(pyright), "--pythonpath", sys.executable, "--verifytypes", "lmms_eval_client",
         "--ignoreexternal", "--outputjson"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    try:
        report = json.loads(done.stdout)["typeCompleteness"]
    except (ValueError, KeyError):
        print(f"pyright --verifytypes did not report:\n{done.stdout}\n{done.stderr}")
        return 2
    score = float(report["completenessScore"])
    for symbol in report.get("symbols", []):
        if not symbol.get("isTypeKnown", True) or symbol.get("isTypeAmbiguous", False):
            print(f"  not fully typed: {symbol['name']}")
    verdict = "ok" if score >= MINIMUM else f"below {MINIMUM:.0%}"
    print(
        f"pyright --verifytypes lmms_eval_client: {score:.1%} of the public API typed ({verdict})"
    )
    return 0 if score >= MINIMUM else 1


if __name__ == "__main__":
    raise SystemExit(main())
