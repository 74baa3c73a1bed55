"""``finml replay`` end to end: wall time against the issue's aim (the default replay, 30
trading days, within 10 minutes on 2 cores) and where the time goes, per job and task, from
the ``job_runs`` rows the replay left.

    .venv/bin/python benchmarks/replay.py --days 30 --drift-day 15 --bad-model-day 24
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

AIM_SECONDS = 600.0


def main(argv: list[str]) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--days", type=int, default=30)
    args.add_argument("--drift-day", type=int, default=15)
    args.add_argument("--bad-model-day", type=int, default=24)
    args.add_argument("--trades-per-day", type=int, default=400)
    opts = args.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from finml.config import ProjectConfig
    from finml.jobs.replay import ReplayPlan, run_replay
    from finml.runtime.delta import DeltaTables

    console = Console()
    plan = ReplayPlan(
        days=opts.days,
        drift_day=opts.drift_day,
        bad_model_day=opts.bad_model_day,
        trades_per_day=opts.trades_per_day,
    )
    home = Path(tempfile.mkdtemp(prefix="finml-replay-bench-")) / "home"
    started = time.perf_counter()
    result = run_replay(ProjectConfig.load(), plan, home=home, root=Path.cwd())
    wall = time.perf_counter() - started
    config = ProjectConfig.from_yaml(home / "replay_config.yml")
    runs = DeltaTables.from_config(config, None).table("job_runs").to_arrow().to_pylist()
    per_task: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in runs:
        per_task[(row["job"], row["task"])].append(row["seconds"] or 0.0)
    table = Table("job", "task", "runs", "total s", "mean s", title="Where the replay's time goes")
    for (job, task), seconds in sorted(per_task.items(), key=lambda kv: -sum(kv[1])):
        table.add_row(job, task, str(len(seconds)), f"{sum(seconds):.1f}",
                      f"{sum(seconds) / len(seconds):.1f}")  # fmt: skip
    console.print(table)
    console.print(
        f"replay of {opts.days} days: {wall:.0f} s wall ({wall / AIM_SECONDS:.2f}x the "
        f"{AIM_SECONDS:.0f} s aim); {result.fires} scheduled runs, "
        f"{len(result.failed_fires)} failed; per day mean {wall / opts.days:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
