"""The bundle's job schedules for a target, and which of them are due: pure functions.

:func:`load_schedules` reads every job's ``schedule`` block resolved for the target (so
``pause_status: ${var.pause_status}`` is the target's value, as the runner resolves it).
:func:`due_runs` answers "which jobs fire between their last fire time and *now*" with no
clock, no I/O and no sleeping: the caller passes the instants. Missed fire times of a job
coalesce into one run that stands for the latest of them (a scheduler that was down, or a
run that outlasted its period, starts one run, not a backlog), and due runs are ordered by
(fire time, job key) so a pass runs them one at a time in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from finml.bundle.cron import QuartzCron
from finml.bundle.loader import parse_job
from finml.bundle.validate import validate_bundle
from finml.bundle.variables import build_context, resolve
from finml.errors import JobError, ScheduleError

PAUSED, UNPAUSED = "PAUSED", "UNPAUSED"


@dataclass(frozen=True)
class JobSchedule:
    """One job's schedule for a target."""

    job: str
    cron: QuartzCron
    paused: bool
    file: str

    @property
    def expression(self) -> str:
        return self.cron.expression

    @property
    def timezone_id(self) -> str:
        return self.cron.timezone_id


@dataclass(frozen=True)
class DueRun:
    """A run to start: it stands for every fire time from ``first_fire_time`` to
    ``fire_time`` (equal unless missed fire times were coalesced)."""

    job: str
    fire_time: datetime
    first_fire_time: datetime

    @property
    def coalesced(self) -> bool:
        return self.first_fire_time != self.fire_time


def load_schedules(
    root: str | Path = ".",
    target: str = "local",
    variables: dict[str, str] | None = None,
    jobs: Sequence[str] | None = None,
) -> list[JobSchedule]:
    """The schedules of the bundle at ``root`` for ``target``, by job key.

    ``jobs`` selects job keys; each must exist and have a schedule. Without it, every job
    with a schedule is returned (paused ones too, with ``paused`` set).

    Raises:
        JobError: the bundle is invalid (every problem listed, a bad cron expression among
            them), a selected job is unknown or has no schedule.
        ScheduleError: a schedule does not parse (names the job, its file and expression).
    """
    bundle, problems = validate_bundle(root)
    if problems:
        raise JobError("bundle is invalid:\n  " + "\n  ".join(str(p) for p in problems))
    unknown = sorted(set(jobs or ()) - set(bundle.jobs))
    if unknown:
        raise JobError(f"job {unknown[0]!r}: expected one of {sorted(bundle.jobs)}")
    context = build_context(bundle, target, variables)
    out = []
    for key in sorted(jobs or bundle.jobs):
        where = f"resources.jobs.{key}"
        job = parse_job(bundle, key, resolve(bundle.jobs[key], context, where))
        file = bundle.rel(bundle.source_of("jobs", key))
        if job.schedule is None:
            if jobs:
                raise JobError(f"{file}: {where}: expected a schedule block, got none")
            continue
        schedule = job.schedule
        try:
            if schedule.pause_status not in (PAUSED, UNPAUSED):
                raise ScheduleError(
                    f"pause_status: expected PAUSED or UNPAUSED, got {schedule.pause_status!r}"
                )
            cron = QuartzCron(schedule.quartz_cron_expression, schedule.timezone_id)
        except ScheduleError as exc:
            raise ScheduleError(f"{file}: {where}.schedule.{exc}") from None
        out.append(JobSchedule(key, cron, schedule.pause_status == PAUSED, file))
    return out


def due_runs(
    schedules: Iterable[JobSchedule],
    last_fired: Mapping[str, datetime],
    now: datetime,
    *,
    since: datetime,
) -> list[DueRun]:
    """The runs due at ``now``: for each unpaused job, its fire times in
    (last fire time, ``now``] coalesced into one :class:`DueRun`.

    ``last_fired`` maps job -> the fire time its last run stood for; a job missing from it
    counts from ``since`` (never fired: nothing before ``since`` is due). Ordered by
    (fire time, job).
    """
    out = []
    for schedule in schedules:
        if schedule.paused:
            continue
        first = schedule.cron.next_after(last_fired.get(schedule.job, since))
        if first is None or first > now:
            continue
        latest = schedule.cron.latest_at_or_before(now) or first
        out.append(DueRun(schedule.job, max(latest, first), first))
    return sorted(out, key=lambda run: (run.fire_time, run.job))


def next_fire_time(
    schedules: Iterable[JobSchedule],
    last_fired: Mapping[str, datetime],
    now: datetime,
    *,
    since: datetime,
) -> datetime | None:
    """The earliest fire time not yet fired of any unpaused job: at or before ``now`` when
    a job is already due (a run outlasted other jobs' fire times), None when none will fire
    again."""
    times = []
    for schedule in schedules:
        if schedule.paused:
            continue
        at = schedule.cron.next_after(last_fired.get(schedule.job, since))
        if at is not None:
            times.append(at)
    return min(times, default=None)
