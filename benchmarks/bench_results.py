"""Reading results files: streaming a large samples file, and loading a large results file.

    python benchmarks/bench_results.py           # 500 MB samples file, 10 MB results file
    python benchmarks/bench_results.py --quick   # 50 MB / 2 MB, a smoke run

1. samples: peak RSS while ``iter_samples`` streams a generated samples file, against the
   baseline of the same process (interpreter, SDK imported, one small file read first);
   measured in a fresh interpreter so nothing else counts. Target: peak within 50 MB of
   the baseline (constant memory whatever the file's size).
2. results: time to ``EvalResults.load`` a generated results file (many tasks, each with a
   config as lmms-eval writes it), median of several loads; ``json.load`` of the same
   file for comparison (parsing only, no model).

The generated files follow the real lmms-eval 0.7.3 files in tests/data.
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

from bench_common import Row, Section, Target

RSS_TARGET_MB = 50.0
MB = 1024 * 1024
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "real-lmms-eval-0.7.3"
REAL_RESULTS = FIXTURES / "single" / "20261202_055237_results.json"

# A child interpreter: baseline RSS after imports and a small warm-up read, then the peak
# while streaming the big file. ru_maxrss is the high-water mark (KiB on Linux).
_STREAM_CHILD = """
import json, resource, sys, time
from lmms_eval_client._results.samples import iter_samples
warm, big = sys.argv[1], sys.argv[2]
for _ in iter_samples(warm):
    pass
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
rows = 0
correct = 0.0
for sample in iter_samples(big):
    rows += 1
    correct += sample.score("exact_match") or 0.0
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kib": base, "peak_kib": peak, "rows": rows, "seconds": elapsed,
                  "correct": correct}))
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


def bench_streaming(workdir: Path, size: int) -> tuple[Section, list[str]]:
    big = workdir / "20261202_000000_samples_big.jsonl"
    warm = workdir / "20261202_000000_samples_warm.jsonl"
    started = time.perf_counter()
    lines = write_samples(big, size)
    write_samples(warm, 200 * 1024)
    generated = time.perf_counter() - started
    child = subprocess.run(
        [sys.executable, "-c", _STREAM_CHILD, str(warm), str(big)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    figures = json.loads(child.stdout)
    big_mb = big.stat().st_size / MB
    base_mb = figures["base_kib"] / 1024
    peak_mb = figures["peak_kib"] / 1024
    growth = peak_mb - base_mb
    assert figures["rows"] == lines, (figures["rows"], lines)
    met = growth <= RSS_TARGET_MB
    rate = big_mb / figures["seconds"]
    target = Target("samples RSS", met, f"peak <= baseline + {RSS_TARGET_MB:.0f} MB")
    section = Section()
    section.rows += [
        Row(
            "results",
            f"stream {big_mb:,.0f} MB samples: peak RSS over baseline",
            "ours",
            f"+{growth:.1f} MB",
            target=target,
        ),
        Row(
            "results",
            "stream samples: baseline / peak RSS",
            "ours",
            f"{base_mb:.1f} / {peak_mb:.1f} MB",
        ),
        Row(
            "results",
            "stream samples: rows, speed",
            "ours",
            f"{figures['rows']:,} rows in {figures['seconds']:.1f} s ({rate:.0f} MB/s, "
            f"{figures['seconds'] / figures['rows'] * 1e6:.1f} us/row)",
        ),
    ]
    lines_out = [
        f"samples file: {big_mb:,.1f} MB, {lines:,} lines (generated in {generated:.1f} s)",
        f"samples streaming: baseline RSS {base_mb:.1f} MB, peak RSS {peak_mb:.1f} MB, "
        f"growth {growth:+.1f} MB (target <= {RSS_TARGET_MB:.0f} MB: "
        f"{'met' if met else 'MISSED'})",
        f"samples streaming: {figures['rows']:,} rows in {figures['seconds']:.2f} s, "
        f"{rate:.1f} MB/s, {figures['seconds'] / figures['rows'] * 1e6:.1f} us per row",
    ]
    return section, lines_out


def bench_loading(workdir: Path, size: int, runs: int) -> tuple[Section, list[str]]:
    from lmms_eval_client._results.results import EvalResults

    path = workdir / "20261202_000000_results.json"
    tasks = write_results(path, size)
    file_mb = path.stat().st_size / MB
    EvalResults.load(path)  # warm-up: imports, pydantic's first validation
    loads: list[float] = []
    parses: list[float] = []
    for _ in range(runs):  # interleaved, so drift affects both alike
        start = time.perf_counter()
        results = EvalResults.load(path)
        loads.append(time.perf_counter() - start)
        start = time.perf_counter()
        with path.open("rb") as f:
            json.load(f)
        parses.append(time.perf_counter() - start)
    assert len(results.metrics) == tasks
    load_ms = statistics.median(loads) * 1000
    parse_ms = statistics.median(parses) * 1000
    section = Section()
    section.rows += [
        Row(
            "results",
            f"EvalResults.load, {file_mb:.1f} MB results file ({tasks:,} tasks)",
            "ours",
            f"{load_ms:.0f} ms",
            ratio=f"{load_ms / parse_ms:.2f}x json.load",
        ),
        Row("results", "json.load of the same file (parsing only)", "json", f"{parse_ms:.0f} ms"),
    ]
    lines_out = [
        f"results file: {file_mb:.1f} MB, {tasks:,} tasks",
        f"results load: EvalResults.load median {load_ms:.1f} ms "
        f"(min {min(loads) * 1000:.1f}, max {max(loads) * 1000:.1f}, {runs} runs); "
        f"json.load median {parse_ms:.1f} ms ({load_ms / parse_ms:.2f}x)",
    ]
    return section, lines_out


def run_results(quick: bool = False, workdir: Path | None = None) -> tuple[Section, list[str]]:
    """Both measures; returns the table rows and one printable line per figure."""
    samples_size = 50 * MB if quick else 500 * MB
    results_size = 2 * MB if quick else 10 * MB
    runs = 5 if quick else 15
    with tempfile.TemporaryDirectory(prefix="bench_results_", dir=workdir) as tmp:
        stream, stream_lines = bench_streaming(Path(tmp), samples_size)
        os.remove(Path(tmp) / "20261202_000000_samples_big.jsonl")  # free the disk space early
        load, load_lines = bench_loading(Path(tmp), results_size, runs)
    section = Section(rows=stream.rows + load.rows)
    return section, stream_lines + load_lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 MB / 2 MB files, fewer runs")
    parser.add_argument("--workdir", type=Path, help="where to write the generated files")
    args = parser.parse_args(argv)
    section, lines = run_results(quick=args.quick, workdir=args.workdir)
    for line in lines:
        print(line)
    missed = [t for t in section.targets if not t.met]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
