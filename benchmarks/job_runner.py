"""Local job runner overhead: a chain of N no-op tasks through ``finml.jobs.runner`` vs the
same N ``spark-submit`` processes started by hand, measured in the same run.

The runner adds: bundle load + validation, variable resolution, a log file per attempt, the
task-values file and one ``job_runs`` Delta commit per attempt. Aim: <= 1.15x of raw
spark-submit (the JVM start dominates both). A plain ``python`` run of the same script is
printed for scale.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import console, parser, progress, report, timed


def bundle(root: Path, tasks: int) -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "resources").mkdir()
    (root / "scripts" / "noop.py").write_text("import sys\nprint('noop', sys.argv[1:])\n")
    chain = [
        {
            "task_key": f"t{i}",
            "depends_on": [{"task_key": f"t{i - 1}"}] if i else [],
            "spark_python_task": {"python_file": "../scripts/noop.py", "parameters": [str(i)]},
        }
        for i in range(tasks)
    ]
    (root / "databricks.yml").write_text(
        yaml.safe_dump(
            {"bundle": {"name": "bench"}, "include": ["resources/*.yml"], "targets": {"local": {}}}
        )
    )
    job = {"resources": {"jobs": {"chain": {"name": "chain", "tasks": chain}}}}
    (root / "resources" / "chain.yml").write_text(yaml.safe_dump(job))
    return root


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0], "python benchmarks/job_runner.py --rows 4 --repeat 2", 4)
    args = p.parse_args(argv)
    from finml.bundle import submit
    from finml.config import ProjectConfig
    from finml.jobs.runner import run_job

    work = Path(tempfile.mkdtemp(prefix="finml-bench-runner-"))
    root = bundle(work / "bundle", args.rows)
    config = ProjectConfig(home=work / "home")
    script = root / "scripts" / "noop.py"
    env = submit.environment(config, {})

    def raw() -> None:
        for i in range(args.rows):
            cmd = submit.command(config, script, [str(i)], f"raw{i}")
            subprocess.run(cmd, env=env, check=True, capture_output=True)

    def runner() -> None:
        if not run_job(config, "chain", root=root).ok:
            raise RuntimeError("benchmark job failed")

    def plain() -> None:
        for i in range(args.rows):
            subprocess.run([sys.executable, str(script), str(i)], check=True, capture_output=True)

    with progress() as bar:
        task = bar.add_task("runner vs raw spark-submit", total=3 * args.repeat)
        base = timed("raw spark-submit x N", args.rows, args.repeat, raw, bar=bar, task=task)
        ours = timed("finml job run (N tasks)", args.rows, args.repeat, runner, bar=bar, task=task)
        python = timed("plain python x N", args.rows, args.repeat, plain, bar=bar, task=task)
    per_task = (ours.seconds - base.seconds) / args.rows
    console.print(
        f"per task: spark-submit {base.seconds / args.rows:.2f} s, runner overhead "
        f"{per_task:.2f} s, plain python {python.seconds / args.rows:.2f} s"
    )
    report(
        "Job runner",
        [(ours, base, 1.15)],
        args.out,
        extra={
            "tasks": args.rows,
            "plain_python_s": python.seconds,
            "runner_overhead_per_task_s": per_task,
            "finished_at": time.time(),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
