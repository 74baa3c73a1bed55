"""``finml job run|list``, ``finml bundle validate|ddl``: the bundle's jobs on this machine and
its Unity Catalog DDL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NotRequired, TypedDict

import typer
from rich.table import Table as RichTable

from finml.cli.common import State, console, emit_json, err_console, fail
from finml.vocabulary import RunState

if TYPE_CHECKING:
    from finml.bundle.runs import TaskAttempt

job_app = typer.Typer(
    help="Run and list the bundle's jobs (resources/*.yml).", no_args_is_help=True
)
bundle_app = typer.Typer(help="Check the Databricks Asset Bundle.", no_args_is_help=True)

RootOption = Annotated[
    Path, typer.Option("--root", help="Bundle folder (holds databricks.yml).", file_okay=False)
]
_STYLE = {
    RunState.SUCCESS: "green",
    RunState.FAILED: "red",
    RunState.TIMEDOUT: "red",
    RunState.UPSTREAM_FAILED: "yellow",
}
_NOT_FAILED = (RunState.SUCCESS, RunState.EXCLUDED)  # an excluded task did not run


class _JobRow(TypedDict):
    """One job of ``finml bundle list`` (and one object of its ``--json``)."""

    job: str
    file: str
    tasks: list[str]
    schedule: NotRequired[str | None]  # absent when the job does not validate


def register(app: typer.Typer) -> None:
    app.add_typer(job_app, name="job")
    app.add_typer(bundle_app, name="bundle")
    job_app.command("run", epilog="Example: finml job run ingestion_workflow --target local")(run)
    job_app.command("list", epilog="Example: finml job list --json")(list_jobs)
    job_app.command("runs", epilog="Example: finml job runs --job retraining_workflow")(runs)
    bundle_app.command(
        "validate",
        epilog="Example: finml bundle validate --root .   (before deploying the endpoint: "
        "finml bundle validate -t serving --var champion_version=3)",
    )(validate)
    bundle_app.command(
        "ddl", epilog="Example: finml bundle ddl --check   (or --write, after a contract change)"
    )(ddl)


def run(
    ctx: typer.Context,
    job: Annotated[
        str, typer.Argument(help="Job key under resources.jobs (see `finml job list`).")
    ],
    target: Annotated[str, typer.Option(help="Bundle target whose variables apply.")] = "local",
    root: RootOption = Path("."),
    var: Annotated[
        list[str] | None, typer.Option("--var", help="Override a bundle variable: name=value.")
    ] = None,
    in_process: Annotated[
        bool,
        typer.Option(
            "--in-process",
            help="Run the tasks in this process on one SparkSession (one JVM start for the "
            "whole job, like a warm job cluster; task timeouts are not enforced).",
        ),
    ] = False,
) -> None:
    """Run a job's tasks in dependency order, each through spark-submit; exit 1 if it fails.

    Every attempt (retries included) is a row of the job_runs Delta table with its log file.
    """
    from finml.jobs.runner import run_job

    state: State = ctx.obj
    overrides = _pairs(var or [])
    with console.status(f"running {job} ({target})", spinner="dots") as status:

        def show(attempt: TaskAttempt) -> None:
            style = _STYLE.get(attempt.state, "dim")
            console.print(
                f"  {attempt.task:<24} attempt {attempt.attempt}  [{style}]{attempt.state}[/]"
                f"  {attempt.seconds:6.1f}s  {attempt.logs_path or attempt.message or ''}"
            )
            status.update(f"running {job} ({target}): {attempt.task} done")

        if in_process:
            state.spark()  # the session every task's getOrCreate() finds
        result = run_job(
            state.config,
            job,
            root=root,
            target=target,
            variables=overrides,
            on_attempt=show,
            in_process=in_process,
        )
    console.print(f"run {result.run_id}: logs in {result.logs_dir}")
    if not result.ok:
        failed = [k for k, s in result.states.items() if s not in _NOT_FAILED]
        fail(f"job {job} failed: {', '.join(f'{k}={result.states[k]}' for k in failed)}")
    console.print(f"[green]job {job} succeeded[/]")


def list_jobs(
    root: RootOption = Path("."),
    target: Annotated[
        str, typer.Option(help="Bundle target whose variables the schedules resolve with.")
    ] = "local",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the bundle's jobs: tasks in run order, schedule (for ``--target``) and file."""
    from finml.bundle.loader import load_bundle
    from finml.bundle.models import Job
    from finml.bundle.variables import build_context, resolve
    from finml.errors import FinmlError

    bundle = load_bundle(root)
    context = build_context(bundle, target, None)
    rows: list[_JobRow] = []
    for key, raw in sorted(bundle.jobs.items()):
        try:
            job = Job.model_validate(resolve(raw, context, f"resources.jobs.{key}"))
        except (ValueError, FinmlError):
            rows.append(
                {"job": key, "file": bundle.rel(bundle.source_of("jobs", key)), "tasks": []}
            )
            continue
        rows.append(
            {
                "job": key,
                "file": bundle.rel(bundle.source_of("jobs", key)),
                "tasks": [t.task_key for t in job.tasks],
                "schedule": job.schedule.quartz_cron_expression if job.schedule else None,
            }
        )
    if as_json:
        emit_json(rows)
        return
    table = RichTable("job", "tasks", "schedule", "file", title="Bundle jobs")
    for row in rows:
        table.add_row(
            row["job"], " -> ".join(row["tasks"]), row.get("schedule") or "-", row["file"]
        )
    console.print(table)


def runs(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option(help="Only this job.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show, newest first.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """Show task attempts from the job_runs Delta table (newest first)."""
    from finml.bundle.runs import JOB_RUNS_TABLE

    state: State = ctx.obj
    table = state.tables().table(JOB_RUNS_TABLE)
    rows = table.to_arrow().to_pylist() if table.exists() else []
    rows = [r for r in rows if job is None or r["job"] == job]
    rows = sorted(rows, key=lambda r: (r["start_time"], r["attempt"]), reverse=True)[:limit]
    if as_json:
        emit_json(rows)
        return
    out = RichTable("started", "run", "job", "task", "try", "state", "s", "exit", title="Job runs")
    for r in rows:
        out.add_row(
            f"{r['start_time']:%Y-%m-%d %H:%M:%S}",
            r["run_id"],
            r["job"],
            r["task"],
            str(r["attempt"]),
            f"[{_STYLE.get(r['state'], 'dim')}]{r['state']}[/]",
            f"{r['seconds']:.1f}",
            "" if r["exit_code"] is None else str(r["exit_code"]),
        )
    console.print(out)


def validate(
    root: RootOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print problems as JSON.")] = False,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            "-t",
            help="The target about to be deployed: its serving endpoint needs a champion.",
        ),
    ] = None,
    var: Annotated[
        list[str] | None, typer.Option("--var", help="name=value overriding a variable of -t.")
    ] = None,
) -> None:
    """Check databricks.yml and resources/*.yml: schema, references, scripts and cycles."""
    from finml.bundle.endpoint import KIND
    from finml.bundle.validate import validate_bundle

    bundle, problems = validate_bundle(root, target, _pairs(var or []))
    if as_json:
        emit_json([{"file": p.file, "key": p.key, "message": p.message} for p in problems])
    else:
        for problem in problems:
            err_console.print(f"[red]{problem}[/]", soft_wrap=True, highlight=False)
    if problems:
        raise typer.Exit(1)
    if not as_json:
        endpoints = {
            key for found in bundle.target_resources.values() for key in found.get(KIND, {})
        } | set(bundle.resources.get(KIND, {}))
        console.print(
            f"bundle {bundle.name}: {len(bundle.jobs)} jobs, "
            f"{len(bundle.pipelines)} pipelines, {len(endpoints)} serving endpoints, valid"
        )


def ddl(
    root: RootOption = Path("."),
    write: Annotated[
        bool, typer.Option("--write", help="Write it to sql/20_medallion_tables.sql under --root.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 if sql/20_medallion_tables.sql differs from it."),
    ] = False,
) -> None:
    """The Unity Catalog DDL of the medallion tables, generated from their contracts
    (printed unless --write or --check)."""
    from finml.bundle.ddl import MEDALLION_DDL, medallion_ddl

    text = medallion_ddl()
    target = root / MEDALLION_DDL
    if check:
        if not target.is_file() or target.read_text() != text:
            fail(f"{target}: differs from the table contracts (run `finml bundle ddl --write`)")
        console.print(f"{target}: equal to the table contracts")
    elif write:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        console.print(f"wrote {target}")
    else:
        print(text, end="")


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--var: expected name=value, got {item!r}", code=2)
        out[name] = value
    return out
