"""``finml scheduler run|next``: the bundle jobs' Quartz schedules fired on this machine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table as RichTable

from finml.cli.bundle import RootOption, _pairs
from finml.cli.common import State, console, emit_json, fail

if TYPE_CHECKING:
    from finml.bundle.schedules import DueRun, JobSchedule
    from finml.jobs.scheduler import Clock, Fire, Launcher, Scheduler

scheduler_app = typer.Typer(
    help="Fire the bundle jobs' schedules (resources/*.yml) through the local job runner.",
    no_args_is_help=True,
)

TargetOption = Annotated[str, typer.Option(help="Bundle target whose variables apply.")]
JobOption = Annotated[
    list[str] | None, typer.Option("--job", help="Only this job (repeatable; default: all).")
]
VarOption = Annotated[
    list[str] | None, typer.Option("--var", help="Override a bundle variable: name=value.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(scheduler_app, name="scheduler")
    scheduler_app.command(
        "run",
        epilog="Example: finml scheduler run --target local   |   finml scheduler run --once "
        "--job dashboard_export_job --since 2026-01-05T00:00Z --until 2026-01-05T01:00Z",
    )(run)
    scheduler_app.command("next", epilog="Example: finml scheduler next --count 3 --json")(
        next_fires
    )


def run(
    ctx: typer.Context,
    target: TargetOption = "local",
    root: RootOption = Path("."),
    job: JobOption = None,
    var: VarOption = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="One pass, then exit: run each job due at --until (or now) once, missed "
            "fire times coalesced.",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            help="ISO time from which a job never fired by this home counts its fire times "
            "(default: now). UTC unless it carries an offset."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="ISO time to stop at (default: run until interrupted).")
    ] = None,
    simulate: Annotated[
        bool,
        typer.Option(
            "--simulate",
            help="Simulated clock: jump from --since to --until fire time by fire time, no "
            "sleeping.",
        ),
    ] = False,
    poll_seconds: Annotated[
        float, typer.Option(min=0.1, help="Longest sleep between passes on the real clock.")
    ] = 60.0,
) -> None:
    """Run the jobs whose schedules fire, one at a time, through the local job runner.

    Each fire is a row of the scheduler_fires Delta table; a restarted scheduler continues
    after each job's last fire. Exit 1 if a scheduled run failed.
    """
    from finml.jobs.scheduler import runner_launcher
    from finml.runtime.locks import run_lock

    state: State = ctx.obj
    start, stop = _window(since, until, simulate=simulate)
    overrides = _pairs(var or [])
    schedules = _active(_load(root, target, overrides, job), target)
    config = state.config
    clock = _clock(start, stop, once=once, simulate=simulate)
    launch = runner_launcher(config, root=root, target=target, variables=overrides)
    with run_lock(config.home, f"scheduler.{target}"):
        scheduler = _scheduler(state, schedules, launch, clock, target, start, poll_seconds)
        _show_span(clock, stop, schedules, target, once=once)
        fires = scheduler.run(until=stop, once=once)
    _show_outcome(fires)


def _scheduler(
    state: State,
    schedules: list[JobSchedule],
    launch: Launcher,
    clock: Clock,
    target: str,
    start: datetime | None,
    poll_seconds: float,
) -> Scheduler:
    """The scheduler of ``schedules`` on ``clock``, its fires in the home's Delta log."""
    from finml.jobs.scheduler import DeltaFireLog, Scheduler, SimulatedClock

    return Scheduler(
        schedules,
        launch,
        clock=clock,
        fires=DeltaFireLog(state.tables()),
        target=target,
        since=start,
        poll_seconds=None if isinstance(clock, SimulatedClock) else poll_seconds,
        on_start=_show_start,
        on_fire=_show_fire,
    )


def _show_span(
    clock: Clock, stop: datetime | None, schedules: list[JobSchedule], target: str, *, once: bool
) -> None:
    """Print which jobs are scheduled, from (or, with ``once``, at) which time."""
    span = f"{clock.now():%Y-%m-%d %H:%M:%S}Z" + (
        f" until {stop:%Y-%m-%d %H:%M:%S}Z" if stop and not once else ""
    )
    jobs = ", ".join(s.job for s in schedules)
    console.print(f"scheduling {jobs} ({target}) {'at' if once else 'from'} {span}")


def _show_outcome(fires: list[Fire]) -> None:
    """Print how the fires went; exit 1 if one failed."""
    failed = [f for f in fires if not f.ok]
    if not fires:
        console.print("nothing was due")
    if failed:
        fail(
            f"{len(failed)} of {len(fires)} scheduled runs failed: "
            + "; ".join(f"{f.job}@{f.fire_time:%Y-%m-%dT%H:%M:%SZ} ({f.message})" for f in failed)
        )
    if fires:
        console.print(f"[green]{len(fires)} scheduled runs succeeded[/]")


def next_fires(
    ctx: typer.Context,
    target: TargetOption = "local",
    root: RootOption = Path("."),
    job: JobOption = None,
    var: VarOption = None,
    count: Annotated[int, typer.Option(min=1, max=100, help="Fire times per job.")] = 1,
    after: Annotated[
        str | None, typer.Option(help="ISO time to list fire times after (default: now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List each scheduled job's next fire times, its last fire here, and PAUSED jobs."""
    from finml.jobs.scheduler import DeltaFireLog

    state: State = ctx.obj
    start = _instant(after, "--after") or datetime.now(UTC)
    schedules = _load(root, target, _pairs(var or []), job)
    last = DeltaFireLog(state.tables()).last_fired(target)
    upcoming = {s.job: _upcoming(s, start, count) for s in schedules}
    if as_json:
        emit_json(
            [
                {
                    "job": s.job,
                    "schedule": s.expression,
                    "timezone": s.timezone_id,
                    "paused": s.paused,
                    "last_fire": last[s.job].isoformat() if s.job in last else None,
                    "next": [t.isoformat() for t in upcoming[s.job]],
                    "file": s.file,
                }
                for s in schedules
            ]
        )
        return
    table = RichTable(
        "job", "schedule", "tz", "next (UTC)", "local", "last fire", title="Schedules"
    )
    for s in schedules:
        times = upcoming[s.job]
        shown = "[yellow]PAUSED[/]" if s.paused else "never" if not times else ""
        table.add_row(
            s.job,
            s.expression,
            s.timezone_id,
            shown or "\n".join(f"{t:%Y-%m-%d %H:%M:%S}" for t in times),
            "\n".join(f"{t.astimezone(s.cron.zone):%Y-%m-%d %H:%M %Z}" for t in times),
            f"{last[s.job]:%Y-%m-%d %H:%M:%S}" if s.job in last else "-",
        )
    console.print(table)


def _upcoming(schedule: JobSchedule, after: datetime, count: int) -> list[datetime]:
    times: list[datetime] = []
    at: datetime | None = after
    while not schedule.paused and at is not None and len(times) < count:
        at = schedule.cron.next_after(at)
        times += [at] if at is not None else []
    return times


def _load(
    root: Path, target: str, overrides: dict[str, str], jobs: list[str] | None
) -> list[JobSchedule]:
    from finml.bundle.schedules import load_schedules

    schedules = load_schedules(root, target, overrides, jobs)
    if not schedules:
        fail(f"no job of the bundle at {root.resolve()} has a schedule")
    return schedules


def _active(schedules: list[JobSchedule], target: str) -> list[JobSchedule]:
    active = [s for s in schedules if not s.paused]
    if not active:
        paused = ", ".join(s.job for s in schedules)
        fail(
            f"nothing to schedule for target {target}: {paused} PAUSED (pause_status); "
            "unpause with --var pause_status=UNPAUSED"
        )
    return active


def _window(
    since: str | None, until: str | None, *, simulate: bool
) -> tuple[datetime | None, datetime | None]:
    start, stop = _instant(since, "--since"), _instant(until, "--until")
    if simulate and (start is None or stop is None):
        missing = "--until" if start else "--since"
        fail(f"--simulate: expected --since and --until, got {missing} missing", code=2)
    if start is not None and stop is not None and stop < start:
        fail(f"--until: expected a time after --since {start.isoformat()}, got {until}", code=2)
    return start, stop


def _clock(start: datetime | None, stop: datetime | None, *, once: bool, simulate: bool) -> Clock:
    """--once --until: a pass at --until; --simulate: from --since; else the real clock."""
    from finml.jobs.scheduler import SimulatedClock, SystemClock

    if once and stop is not None:
        return SimulatedClock(stop)
    if simulate and start is not None:
        return SimulatedClock(start)
    return SystemClock()


def _instant(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: expected an ISO time like 2026-01-05T09:30:00Z, got {text!r}", code=2)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _show_start(due: DueRun) -> None:
    missed = f" (coalesced from {due.first_fire_time:%Y-%m-%d %H:%M:%S})" if due.coalesced else ""
    console.print(f"{due.fire_time:%Y-%m-%d %H:%M:%S}Z  {due.job} starting{missed}")


def _show_fire(fire: Fire) -> None:
    seconds = (fire.ended_at - fire.started_at).total_seconds()
    verdict = "[green]SUCCESS[/]" if fire.ok else f"[red]FAILED[/] {fire.message or ''}"
    console.print(
        f"{fire.fire_time:%Y-%m-%d %H:%M:%S}Z  {fire.job} {verdict}  run {fire.run_id}  "
        f"{seconds:.1f}s"
    )
