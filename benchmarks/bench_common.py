"""What every benchmark shares: result rows, targets, statistics, the machine, CPU pinning."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata


@dataclass(frozen=True)
class Target:
    """A goal of the benchmark and whether this run met it."""

    name: str
    met: bool
    detail: str

    @property
    def verdict(self) -> str:
        return "met" if self.met else "MISSED"


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    benchmark: str
    measure: str
    client: str
    value: str
    ratio: str = ""
    target: Target | None = None

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{self.target.detail}: {self.target.verdict}"


@dataclass
class Section:
    """What one benchmark produced: table rows, targets, and notes printed under the table."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def targets(self) -> list[Target]:
        return [row.target for row in self.rows if row.target is not None]


# -- statistics ---------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p90(values: Sequence[float]) -> float:
    """The 90th percentile (inclusive method: it is a value of the sample's range)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f}"


def fmt_ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}x"


def fmt_ratio_to(ratio: float, bound: float) -> str:
    """A ratio beside its target's bound: two decimals, more where two would show the bound
    itself (0.797x against ">= 0.80x" must not read "0.80x ... MISSED")."""
    for digits in range(2, 7):
        shown = f"{ratio:.{digits}f}x"
        if ratio == bound or shown != f"{bound:.{digits}f}x":
            break
    return shown


def ratio_target(
    name: str, ratio: float, bound: float, against: str, *, at_least: bool = False
) -> tuple[str, Target]:
    """A ratio with a target, as a row shows it and as the run judges it, from one bound:
    ``ratio <= bound`` (``at_least``: ``>=``), e.g. ("1.19x", "<= 1.30x raw: met")."""
    met = ratio >= bound if at_least else ratio <= bound
    detail = f"{'>=' if at_least else '<='} {bound:.2f}x {against}"
    return fmt_ratio_to(ratio, bound), Target(name, met, detail)


# -- the machine --------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_line() -> str:
    """CPU, cores, Python and the versions that matter, on one line."""
    return (
        f"{cpu_model()}, {os.cpu_count()} cores | Python {platform.python_version()} | "
        f"httpx {version_of('httpx')} | pydantic {version_of('pydantic')} | "
        f"lmms-eval {version_of('lmms-eval')} | lmms-eval-client {version_of('lmms-eval-client')}"
    )


# -- CPU pinning --------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuPlan:
    """Which CPU the client (this process) and the server process run on, if pinned."""

    client: int | None
    server: int | None

    @classmethod
    def choose(cls, pin: bool) -> CpuPlan:
        """Client on the first allowed CPU, server on the second (needs two CPUs)."""
        if not pin or not hasattr(os, "sched_getaffinity"):
            return cls(None, None)
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return cls(None, None)
        return cls(cpus[0], cpus[1])

    def pin_client(self) -> None:
        if self.client is not None:
            os.sched_setaffinity(0, {self.client})

    def describe(self) -> str:
        if self.client is None:
            return "CPUs not pinned"
        return f"client pinned to CPU {self.client}, server to CPU {self.server}"


# -- the table ----------------------------------------------------------------------------

HEADERS = ("benchmark", "measure", "client", "value", "vs raw", "target")


def _cells(row: Row) -> tuple[str, ...]:
    return (row.benchmark, row.measure, row.client, row.value, row.ratio, row.target_text)


def render_text(rows: Sequence[Row]) -> str:
    """An aligned plain-text table; numbers right-aligned, a rule between benchmarks."""
    table = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    right = {3, 4}

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "-" * len(line(["-" * w for w in widths]))
    out = [line(HEADERS), rule]
    previous = None
    for row in rows:
        if previous is not None and row.benchmark != previous:
            out.append("")
        out.append(line(_cells(row)))
        previous = row.benchmark
    return "\n".join(out)


def render_markdown(rows: Sequence[Row]) -> str:
    """The same table in Markdown, for the performance guide."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    out = [line(HEADERS), "| " + " | ".join(("---", "---", "---", "---:", "---:", "---")) + " |"]
    out.extend(line(_cells(row)) for row in rows)
    return "\n".join(out)
