"""Shared benchmark plumbing: timing with repeats, progress, result tables and JSON output."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(width=150)
OUT = Path(__file__).resolve().parent / "out"


@dataclass
class Measure:
    name: str
    seconds: float  # median of the repeats
    best: float
    rows: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


def parser(description: str, example: str, rows: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, epilog=f"Example: {example}")
    p.add_argument("--rows", type=int, default=rows, help=f"rows to process (default {rows:,})")
    p.add_argument("--repeat", type=int, default=3, help="timed repeats per measure (median)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON result file (default: benchmarks/out)",
    )
    return p


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def timed(
    name: str,
    rows: int,
    repeat: int,
    work: Callable[[], object],
    setup: Callable[[], object] | None = None,
    bar: Progress | None = None,
    task: object = None,
) -> Measure:
    """Warm up once, then time ``work`` ``repeat`` times (``setup`` untimed before each)."""
    if setup:
        setup()
    work()
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
        if bar is not None:
            bar.advance(task)  # type: ignore[arg-type]
    return Measure(name, statistics.median(times), min(times), rows)


def report(
    title: str,
    pairs: list[tuple[Measure, Measure, float]],
    out: Path | None,
    extra: dict | None = None,
) -> None:
    """Print (ours, baseline, aim) pairs with ratios and save them as JSON."""
    table = Table(
        "measure", "ours s", "baseline s", "ours rows/s", "ratio ours/baseline", "aim", title=title
    )
    for ours, base, aim in pairs:
        ratio = ours.seconds / base.seconds
        verdict = "[green]met[/]" if ratio <= aim else "[red]missed[/]"
        table.add_row(
            f"{ours.name} vs {base.name}",
            f"{ours.seconds:.2f}",
            f"{base.seconds:.2f}",
            f"{ours.rows_per_second:,.0f}",
            f"{ratio:.2f}x",
            f"<= {aim}x {verdict}",
        )
    console.print(table)
    path = out or OUT / f"{title.lower().replace(' ', '_')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "title": title,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "pairs": [
            {"ours": asdict(o), "baseline": asdict(b), "ratio": o.seconds / b.seconds, "aim": aim}
            for o, b, aim in pairs
        ],
        **(extra or {}),
    }
    path.write_text(json.dumps(payload, indent=2))
    console.print(f"results: {path}")


@dataclass
class DemoSets:
    """What a benchmark over a finished demo needs: its tables, model settings and sets."""

    tables: Any  # finml.runtime.delta.DeltaTables
    settings: Any  # finml.models.settings.ModelSettings
    train: Any  # finml.models.data.Split
    test: Any


def demo_sets(argv: list[str], description: str) -> DemoSets:
    """Parse ``--config`` and read the demo's ``train_set`` / ``test_set`` (delta-rs, no
    Spark) with the project's model settings."""
    args = argparse.ArgumentParser(description=description)
    args.add_argument("--config", default=None, help="project config (default: the project's)")
    opts = args.parse_args(argv)

    from finml.config import ProjectConfig
    from finml.models.data import load_split
    from finml.models.settings import ModelSettings
    from finml.runtime.delta import DeltaTables

    config = ProjectConfig.load(opts.config)
    tables = DeltaTables.from_config(config, None)
    train, test = load_split(tables, "train_set"), load_split(tables, "test_set")
    return DemoSets(tables, ModelSettings.from_config(config), train, test)
