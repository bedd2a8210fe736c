"""Reading results files at the scale users reach, each measure against its floor.

    python benchmarks/bench_results.py           # 500 MB samples file, 100 MB results file
    python benchmarks/bench_results.py --quick   # 50 MB / 10 MB, a smoke run

1. results: ``EvalResults.load`` + ``.metrics`` of a generated 100 MB results file (60,000
   tasks, each with its config as lmms-eval writes it) vs ``json.load`` of the same file:
   time (target <= 1.3x) and peak memory over the process's baseline.
2. samples: streaming a generated 500 MB samples file with ``iter_samples`` vs the plain
   ``for line in file: json.loads(line)`` loop: speed (target >= 0.8x of the loop) and
   peak memory over the baseline (target: within 50 MB, whatever the file's size).

Every measure runs in a fresh interpreter (imports and a small read first, so the baseline
holds them), the two sides interleaved, medians of several runs. The generated files
follow the real lmms-eval 0.7.3 files in tests/data.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_common import Row, Section, Target, ratio_target, render_text

LOAD_TARGET = 1.30
STREAM_TARGET = 0.80
RSS_TARGET_MB = 50.0
MB = 1024 * 1024
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "real-lmms-eval-0.7.3"
REAL_RESULTS = FIXTURES / "single" / "20261202_055237_results.json"
REAL_SAMPLES = FIXTURES / "single" / "20261202_055237_samples_e2e_arith.jsonl"

# A child interpreter: warm up (imports, a small file), take the baseline RSS, time one
# read of the big file, and the peak RSS during it (KiB).
_CHILD = """
import json, resource, sys, time
mode, big = sys.argv[1], sys.argv[2]
from lmms_eval_client import EvalResults, iter_samples
EvalResults.load(sys.argv[3]).metrics
for _ in iter_samples(sys.argv[4]):
    pass
def status_kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))
try:  # Linux: reset the high-water mark (an import's peak may be above what is held now)
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    base, peak_of = status_kib("VmRSS:"), lambda: status_kib("VmHWM:")
except OSError:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_of = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
count = 0
if mode == "json.load":
    with open(big, "rb") as f:
        count = len(json.load(f)["results"])
elif mode == "ours.load":
    count = len(EvalResults.load(big).metrics)
elif mode == "json.loads loop":
    with open(big, "rb") as f:
        for line in f:
            json.loads(line)
            count += 1
else:
    for sample in iter_samples(big):
        count += 1
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "grew_kib": peak_of() - base, "count": count}))
"""


def _sample_line(doc_id: int, filler: str) -> bytes:
    record = {
        "doc_id": doc_id,
        "target": str(doc_id % 97),
        "filtered_resps": str(doc_id % 89),
        "token_counts": [{"input_tokens": 412, "output_tokens": 7, "reasoning_tokens": 0}],
        "doc_hash": f"{doc_id:064x}",
        "exact_match": float(doc_id % 97 == doc_id % 89),
        "input": f"Question {doc_id}: {filler}",
    }
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()


def write_samples(path: Path, size: int) -> int:
    """A samples file of about ``size`` bytes (1 KB lines); returns the number of lines."""
    filler = "Describe the image and answer with one word. " * 20
    written = lines = 0
    with path.open("wb", buffering=4 * MB) as out:
        while written < size:
            chunk = b"".join(_sample_line(lines + i, filler) for i in range(1000))
            out.write(chunk)
            written += len(chunk)
            lines += 1000
    return lines


def _write_results(path: Path, count: int) -> int:
    """A results file with ``count`` tasks, shaped as the real one; returns ``count``."""
    real = json.loads(REAL_RESULTS.read_text())
    template_config = real["configs"]["e2e_arith"]
    tasks = [f"task_{i:05d}" for i in range(count)]
    doc = dict(real)
    doc["results"] = {
        t: {
            "alias": t,
            "exact_match,none": (i % 100) / 100,
            "exact_match_stderr,none": 0.01,
            "exact_match_stderr_clt,none": 0.01,
            "exact_match_stderr_clustered,none": "N/A",
        }
        for i, t in enumerate(tasks)
    }
    doc["group_subtasks"] = {t: [] for t in tasks}
    doc["configs"] = {t: {**template_config, "task": t} for t in tasks}
    doc["versions"] = {t: 0.1 for t in tasks}
    doc["n-shot"] = {t: 0 for t in tasks}
    doc["higher_is_better"] = {t: {"exact_match": True} for t in tasks}
    doc["n-samples"] = {t: {"original": 500, "effective": 500} for t in tasks}
    doc["task_hashes"] = {t: "0" * 64 for t in tasks}
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    return count


def write_results(path: Path, size: int) -> int:
    """A results file of about ``size`` bytes: the real file's shape, many tasks."""
    count = _write_results(path, max(1, size // 7000))
    scaled = max(1, round(count * size / path.stat().st_size))  # one correction is enough
    return _write_results(path, scaled)


def _child(mode: str, big: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(big), str(REAL_RESULTS), str(REAL_SAMPLES)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def _compare(floor: str, ours: str, big: Path, runs: int) -> dict[str, list[dict[str, float]]]:
    """Both sides ``runs`` times, interleaved (the order alternating)."""
    seen: dict[str, list[dict[str, float]]] = {floor: [], ours: []}
    for i in range(runs):
        for mode in (floor, ours) if i % 2 == 0 else (ours, floor):
            seen[mode].append(_child(mode, big))
    return seen


def _median(values: list[dict[str, float]], key: str) -> float:
    return statistics.median(value[key] for value in values)


def bench_loading(workdir: Path, size: int, runs: int) -> Section:
    path = workdir / "20261202_000000_results.json"
    tasks = write_results(path, size)
    file_mb = path.stat().st_size / MB
    seen = _compare("json.load", "ours.load", path, runs)
    floor_s, ours_s = _median(seen["json.load"], "seconds"), _median(seen["ours.load"], "seconds")
    floor_mb = _median(seen["json.load"], "grew_kib") / 1024
    ours_mb = _median(seen["ours.load"], "grew_kib") / 1024
    ratio = ours_s / floor_s
    what = f"load {file_mb:.0f} MB results ({tasks:,} tasks), median of {runs}"
    section = Section()
    section.rows += [
        Row("results", what, "json.load (floor)", f"{floor_s * 1000:,.0f} ms, +{floor_mb:.0f} MB"),
        Row(
            "results",
            what,
            "EvalResults.load + .metrics (ours)",
            f"{ours_s * 1000:,.0f} ms, +{ours_mb:.0f} MB",
            *ratio_target("results load", ratio, LOAD_TARGET, "json.load"),
        ),
    ]
    return section


def bench_streaming(workdir: Path, size: int, runs: int) -> Section:
    big = workdir / "20261202_000000_samples_big.jsonl"
    lines = write_samples(big, size)
    big_mb = big.stat().st_size / MB
    seen = _compare("json.loads loop", "iter_samples", big, runs)
    assert all(run["count"] == lines for runs_ in seen.values() for run in runs_)
    floor_rate = big_mb / _median(seen["json.loads loop"], "seconds")
    ours_rate = big_mb / _median(seen["iter_samples"], "seconds")
    grew = max(run["grew_kib"] for run in seen["iter_samples"]) / 1024
    ratio = ours_rate / floor_rate
    what = f"stream {big_mb:,.0f} MB samples ({lines:,} lines), median of {runs}"
    section = Section()
    section.rows += [
        Row("results", what, "for line: json.loads(line) (floor)", f"{floor_rate:,.0f} MB/s"),
        Row(
            "results",
            what,
            "iter_samples (ours)",
            f"{ours_rate:,.0f} MB/s",
            *ratio_target("samples speed", ratio, STREAM_TARGET, "the loop", at_least=True),
        ),
        Row(
            "results",
            "stream samples: peak memory over baseline",
            "iter_samples (ours)",
            f"+{grew:.1f} MB",
            target=Target("samples memory", grew <= RSS_TARGET_MB, f"<= +{RSS_TARGET_MB:.0f} MB"),
        ),
    ]
    return section


def run_results(workdir: Path, quick: bool = False) -> Section:
    """Both measures, on files generated under ``workdir`` (removed after)."""
    samples_size = 50 * MB if quick else 500 * MB
    results_size = 10 * MB if quick else 100 * MB
    runs = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="bench_results_", dir=workdir) as tmp:
        load = bench_loading(Path(tmp), results_size, runs)
        os.remove(Path(tmp) / "20261202_000000_results.json")  # free the disk space early
        stream = bench_streaming(Path(tmp), samples_size, runs)
    section = Section(rows=load.rows + stream.rows)
    section.notes.append(
        "results: each measure in a fresh interpreter after its imports and a small read "
        "(the baseline), the floor and ours interleaved; memory is the peak RSS over it."
    )
    return section


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 MB / 10 MB files, fewer runs")
    parser.add_argument("--workdir", type=Path, help="where to write the generated files")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    section = run_results(args.workdir or Path(tempfile.gettempdir()), quick=args.quick)
    print(render_text(section.rows))
    print(f"({time.perf_counter() - started:.0f} s)")
    return 1 if any(not t.met for t in section.targets) else 0


if __name__ == "__main__":
    sys.exit(main())
