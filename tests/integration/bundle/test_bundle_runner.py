"""The local job runner on a synthetic bundle: retries, timeouts, run_if, condition tasks,
task values, for_each, and a failed task stopping its dependents (exit code 1).

The scripts start no SparkSession, so each ``spark-submit`` costs only the JVM launch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bundle_cli import finml, job_runs

SCRIPTS = {
    "flaky.py": """
import sys
from pathlib import Path
from finml.bundle.task_values import set_task_value
counter = Path(sys.argv[sys.argv.index("--counter") + 1])
count = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(count))
if count <= int(sys.argv[sys.argv.index("--fail-times") + 1]):
    sys.exit(f"flaky: failing on purpose (attempt {count})")
set_task_value("attempts", count)
""",
    "decide.py": """
import sys
from finml.bundle.task_values import set_task_value
set_task_value("decision", sys.argv[sys.argv.index("--decision") + 1])
""",
    "record.py": """
import sys
from pathlib import Path
out = Path(sys.argv[sys.argv.index("--out") + 1])
with out.open("a") as f:
    f.write(sys.argv[sys.argv.index("--name") + 1] + "\\n")
""",
    "fail.py": "import sys\nsys.exit(3)\n",
    "sleep.py": "import time\ntime.sleep(120)\n",
}


def spt(script: str, *params: str) -> dict:
    return {
        "spark_python_task": {"python_file": f"../scripts/{script}", "parameters": list(params)}
    }


def synthetic_bundle(root: Path) -> Path:
    out = str(root / "ran.txt")
    tasks = [
        {"task_key": "flaky", "max_retries": 2, "min_retry_interval_millis": 200,
         **spt("flaky.py", "--counter", str(root / "counter"), "--fail-times", "2")},
        {"task_key": "decide", "depends_on": [{"task_key": "flaky"}],
         **spt("decide.py", "--decision", "${var.decision}")},
        {"task_key": "gate", "depends_on": [{"task_key": "decide"}],
         "condition_task": {"op": "EQUAL_TO", "left": "{{tasks.decide.values.decision}}",
                            "right": "go"}},
        {"task_key": "on_true", "depends_on": [{"task_key": "gate", "outcome": "true"}],
         **spt("record.py", "--out", out, "--name", "on_true:{{tasks.flaky.values.attempts}}")},
        {"task_key": "on_false", "depends_on": [{"task_key": "gate", "outcome": "false"}],
         **spt("record.py", "--out", out, "--name", "on_false")},
        {"task_key": "breaks", "depends_on": [{"task_key": "on_true"}], "max_retries": 1,
         "min_retry_interval_millis": 100, **spt("fail.py")},
        {"task_key": "after_break", "depends_on": [{"task_key": "breaks"}],
         **spt("record.py", "--out", out, "--name", "after_break")},
        {"task_key": "cleanup", "depends_on": [{"task_key": "breaks"}], "run_if": "ALL_DONE",
         **spt("record.py", "--out", out, "--name", "cleanup:${bundle.target}")},
        {"task_key": "slow", "timeout_seconds": 5, "max_retries": 1, **spt("sleep.py")},
        {"task_key": "wheel", "python_wheel_task": {
            "package_name": "finml", "entry_point": "finml", "parameters": ["info", "--json"]}},
        {"task_key": "fan", "for_each_task": {
            "inputs": '["x", "y"]',
            "task": {"task_key": "fan_item", **spt("record.py", "--out", out, "--name",
                                                  "fan:{{input}}")}}},
    ]  # fmt: skip
    (root / "scripts").mkdir(parents=True)
    (root / "resources").mkdir()
    for name, text in SCRIPTS.items():
        (root / "scripts" / name).write_text(text)
    (root / "databricks.yml").write_text(
        yaml.safe_dump(
            {
                "bundle": {"name": "synthetic"},
                "include": ["resources/*.yml"],
                "variables": {"decision": {"default": "go"}},
                "targets": {"local": {}},
            }
        )
    )
    job = {"resources": {"jobs": {"synthetic": {"name": "synthetic", "tasks": tasks}}}}
    (root / "resources" / "synthetic.yml").write_text(yaml.safe_dump(job, sort_keys=False))
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = synthetic_bundle(tmp_path_factory.mktemp("bundle"))
    home = tmp_path_factory.mktemp("home")
    result = finml("job", "run", "synthetic", "--root", str(root), "--target", "local", home=home)
    rows = job_runs(home)
    by_task: dict[str, list[dict]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append(row)
    return {"result": result, "rows": rows, "tasks": by_task, "root": root}


def states(run: dict, task: str) -> list[str]:
    return [r["state"] for r in sorted(run["tasks"][task], key=lambda r: r["attempt"])]


def test_the_run_exits_non_zero_and_names_the_failed_tasks(run: dict) -> None:
    result = run["result"]
    assert result.returncode == 1, result.stderr[-2000:]
    assert "job synthetic failed" in result.stderr
    assert "breaks=FAILED" in result.stderr and "slow=TIMEDOUT" in result.stderr


def test_a_flaky_task_is_retried_until_it_succeeds(run: dict) -> None:
    assert states(run, "flaky") == ["FAILED", "FAILED", "SUCCESS"]
    first, second, third = sorted(run["tasks"]["flaky"], key=lambda r: r["attempt"])
    assert [first["exit_code"], third["exit_code"]] == [1, 0]
    assert "failing on purpose (attempt 1)" in Path(first["logs_path"]).read_text()
    # min_retry_interval_millis: the next attempt starts no earlier than 200 ms after.
    assert (second["start_time"] - first["end_time"]).total_seconds() >= 0.2


def test_a_failing_task_uses_its_retries_then_stops_its_dependents(run: dict) -> None:
    assert states(run, "breaks") == ["FAILED", "FAILED"]
    assert [r["exit_code"] for r in run["tasks"]["breaks"]] == [3, 3]
    assert states(run, "after_break") == ["UPSTREAM_FAILED"]
    assert run["tasks"]["after_break"][0]["logs_path"] is None  # never started
    ran = (run["root"] / "ran.txt").read_text().split()
    assert "after_break" not in ran
    assert "cleanup:local" in ran  # run_if ALL_DONE runs after a failure


def test_condition_task_and_task_values_pick_the_branch(run: dict) -> None:
    assert states(run, "gate") == ["SUCCESS"]
    assert run["tasks"]["gate"][0]["message"] == "'go' EQUAL_TO 'go' -> true"
    assert states(run, "on_false") == ["EXCLUDED"]
    ran = (run["root"] / "ran.txt").read_text().split()
    assert "on_true:3" in ran  # {{tasks.flaky.values.attempts}} from the 3rd attempt
    assert "on_false" not in ran


def test_a_timed_out_task_is_killed_and_not_retried_without_retry_on_timeout(run: dict) -> None:
    (slow,) = run["tasks"]["slow"]
    assert slow["state"] == "TIMEDOUT"
    assert 5 <= slow["seconds"] < 60
    assert slow["message"] == "timed out after 5 s"


def test_for_each_runs_the_nested_task_per_input(run: dict) -> None:
    assert states(run, "fan[0]") == ["SUCCESS"] and states(run, "fan[1]") == ["SUCCESS"]
    ran = (run["root"] / "ran.txt").read_text().split()
    assert {"fan:x", "fan:y"} <= set(ran)


def test_every_row_carries_run_id_target_timings_and_logs(run: dict) -> None:
    rows = run["rows"]
    assert len({r["run_id"] for r in rows}) == 1
    assert {r["job"] for r in rows} == {"synthetic"}
    assert {r["target"] for r in rows} == {"local"}
    for row in rows:
        assert row["end_time"] >= row["start_time"]
        if row["logs_path"]:
            log = Path(row["logs_path"])
            assert log.is_file() and log.read_text().startswith("$ ")
            assert "spark-submit --master local[2]" in log.read_text().splitlines()[0]


def test_a_python_wheel_task_runs_the_console_script_entry_point(run: dict) -> None:
    (wheel,) = run["tasks"]["wheel"]
    assert wheel["state"] == "SUCCESS", Path(wheel["logs_path"]).read_text()[-2000:]
    assert '"catalog": "finml_local"' in Path(wheel["logs_path"]).read_text()


def test_in_process_tasks_keep_retries_values_branches_and_failures(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The same job with --in-process: every task a call in one process (one SparkSession).
    # Timeouts are not enforced there, so the sleeping task is left out.
    root = synthetic_bundle(tmp_path_factory.mktemp("bundle_in_process"))
    job_file = root / "resources" / "synthetic.yml"
    job = yaml.safe_load(job_file.read_text())
    tasks = job["resources"]["jobs"]["synthetic"]["tasks"]
    tasks[:] = [t for t in tasks if t["task_key"] not in ("slow", "wheel")]
    job_file.write_text(yaml.safe_dump(job, sort_keys=False))
    home = tmp_path_factory.mktemp("home_in_process")
    result = finml(
        "job", "run", "synthetic", "--root", str(root), "--target", "local", "--in-process",
        home=home,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "breaks=FAILED" in result.stderr
    final = {row["task"]: row["state"] for row in job_runs(home)}
    assert final["flaky"] == final["on_true"] == final["cleanup"] == "SUCCESS"
    assert final["on_false"] == "EXCLUDED" and final["after_break"] == "UPSTREAM_FAILED"
    attempts = [r["attempt"] for r in job_runs(home) if r["task"] == "flaky"]
    assert sorted(attempts) == [1, 2, 3]
    ran = sorted((root / "ran.txt").read_text().split())
    assert ran == ["cleanup:local", "fan:x", "fan:y", "on_true:3"]
    log = next(r["logs_path"] for r in job_runs(home) if r["task"] == "breaks")
    assert Path(log).read_text().startswith("$ (in process) ")
