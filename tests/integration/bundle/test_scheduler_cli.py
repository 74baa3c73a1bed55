"""``finml scheduler run`` as a real process on a tiny bundle: the schedule fires through the
real job runner (spark-submit), lands ``job_runs`` and ``scheduler_fires`` rows, a second
process does not fire again what ran, a simulated clock walks fire times, and a failed run
exits 1. The task scripts start no SparkSession, so each run costs one JVM launch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from bundle_cli import REPO, finml, job_runs


def tiny_bundle(root: Path) -> Path:
    (root / "resources").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "scripts" / "tick.py").write_text(
        "import sys\nfrom pathlib import Path\n"
        "with Path(sys.argv[1]).open('a') as f:\n    f.write(' '.join(sys.argv[2:]) + '\\n')\n"
    )
    (root / "scripts" / "fail.py").write_text("import sys\nsys.exit('broken on purpose')\n")
    (root / "databricks.yml").write_text(
        yaml.safe_dump(
            {
                "bundle": {"name": "sched"},
                "include": ["resources/*.yml"],
                "variables": {"pause_status": {"default": "PAUSED"}},
                "targets": {"local": {"variables": {"pause_status": "UNPAUSED"}}},
            }
        )
    )

    def job(script: str, cron: str, *params: str) -> dict:
        return {
            "name": script,
            "max_concurrent_runs": 1,
            "schedule": {
                "quartz_cron_expression": cron,
                "timezone_id": "UTC",
                "pause_status": "${var.pause_status}",
            },
            "tasks": [
                {
                    "task_key": "run",
                    "spark_python_task": {
                        "python_file": f"../scripts/{script}",
                        "parameters": list(params),
                    },
                }
            ],
        }

    jobs = {
        "ticker": job(
            "tick.py",
            "0 0/10 * * * ?",
            str(root / "ticks.txt"),
            "{{job.trigger.type}}",
            "{{job.trigger.time.iso_datetime}}",
        ),
        "broken": job("fail.py", "0 0 * * * ?"),
    }
    (root / "resources" / "jobs.yml").write_text(yaml.safe_dump({"resources": {"jobs": jobs}}))
    return root


def fires(home: Path) -> list[dict]:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    table = DeltaTables.from_config(ProjectConfig(home=home), None).table("scheduler_fires")
    return sorted(table.to_arrow().to_pylist(), key=lambda r: (r["fire_time"], r["job"]))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_scheduler_fires_through_the_runner_once_and_never_again(tmp_path: Path) -> None:
    root, home = tiny_bundle(tmp_path / "bundle"), tmp_path / "home"
    window = ("--since", "2026-01-05T00:00:00Z", "--until", "2026-01-05T00:25:00Z")
    once = ("scheduler", "run", "--root", str(root), "--job", "ticker", "--once", *window)

    result = finml(*once, home=home, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ticker starting (coalesced from 2026-01-05 00:10:00)" in result.stdout
    runs = job_runs(home)
    assert [(r["job"], r["task"], r["state"]) for r in runs] == [("ticker", "run", "SUCCESS")]
    assert [(f["job"], f["first_fire_time"], f["fire_time"], f["ok"]) for f in fires(home)] == [
        ("ticker", utc("2026-01-05T00:10"), utc("2026-01-05T00:20"), True)
    ]
    assert fires(home)[0]["run_id"] == runs[0]["run_id"]
    # The run saw its (simulated) fire time, as Databricks' {{job.trigger.time.*}}.
    assert (root / "ticks.txt").read_text() == "periodic 2026-01-05T00:20:00+00:00\n"

    # A new process on the same home: 00:10-00:20 already ran, nothing is due.
    again = finml(*once, home=home, cwd=root)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing was due" in again.stdout
    assert len(job_runs(home)) == 1

    # A simulated clock walks on from the last fire: 00:30 and 00:40, one run each.
    walk = finml(
        "scheduler", "run", "--root", str(root), "--job", "ticker", "--simulate",
        "--since", "2026-01-05T00:00:00Z", "--until", "2026-01-05T00:45:00Z",
        home=home, cwd=root,
    )  # fmt: skip
    assert walk.returncode == 0, walk.stderr[-3000:]
    assert [f["fire_time"] for f in fires(home)][1:] == [
        utc("2026-01-05T00:30"),
        utc("2026-01-05T00:40"),
    ]
    assert (root / "ticks.txt").read_text().splitlines()[1:] == [
        "periodic 2026-01-05T00:30:00+00:00",
        "periodic 2026-01-05T00:40:00+00:00",
    ]

    listed = finml(
        "scheduler", "next", "--root", str(root), "--after", "2026-01-05T00:45:00Z", "--json",
        home=home, cwd=root,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr[-3000:]
    rows = {row["job"]: row for row in json.loads(listed.stdout)}
    assert rows["ticker"]["next"] == ["2026-01-05T00:50:00+00:00"]
    assert rows["ticker"]["last_fire"] == "2026-01-05T00:40:00+00:00"


def test_a_failed_scheduled_run_exits_1_naming_job_and_fire_time(tmp_path: Path) -> None:
    root, home = tiny_bundle(tmp_path / "bundle"), tmp_path / "home"
    result = finml(
        "scheduler", "run", "--root", str(root), "--job", "broken", "--once",
        "--since", "2026-01-05T00:00:00Z", "--until", "2026-01-05T01:00:00Z",
        home=home, cwd=root,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr  # one line
    assert "1 of 1 scheduled runs failed: broken@2026-01-05T01:00:00Z (run=FAILED)" in result.stderr
    assert [(f["job"], f["ok"]) for f in fires(home)] == [("broken", False)]


def test_usage_and_schedule_errors_exit_2_and_1(tmp_path: Path) -> None:
    root, home = tiny_bundle(tmp_path / "bundle"), tmp_path / "home"
    usage = finml("scheduler", "run", "--root", str(root), "--simulate", home=home, cwd=root)
    assert usage.returncode == 2
    assert "--simulate: expected --since and --until" in usage.stderr
    jobs = root / "resources" / "jobs.yml"
    jobs.write_text(jobs.read_text().replace("0 0/10 * * * ?", "0 0/10 * * * *"))
    bad = finml("scheduler", "next", "--root", str(root), home=home, cwd=root)
    assert bad.returncode == 1
    assert (
        "resources/jobs.yml: resources.jobs.ticker.schedule.quartz_cron_expression: expected a "
        "Quartz cron expression"
    ) in bad.stderr
    assert "got '0 0/10 * * * *'" in bad.stderr


def test_ctrl_c_stops_the_real_clock_scheduler_with_exit_130(tmp_path: Path) -> None:
    root, home = tiny_bundle(tmp_path / "bundle"), tmp_path / "home"
    env = {**os.environ, "FINML_HOME": str(home), "FINML_CONFIG": str(REPO / "project_config.yml")}
    process = subprocess.Popen(
        [sys.executable, "-c", "from finml.cli import main; main()", "scheduler", "run",
         "--root", str(root), "--job", "broken", "--poll-seconds", "1"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("scheduling broken (local) from ")
        time.sleep(1.5)  # inside the clock's sleep
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err[-2000:]
    assert "interrupted" in out
