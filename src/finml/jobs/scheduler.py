"""The local scheduler: fire the bundle's Quartz schedules through the local job runner.

``Scheduler`` owns no time of its own: a :class:`Clock` says what time it is and waits, so
the same loop runs on the wall clock (``finml scheduler run``) or on a
:class:`SimulatedClock` that jumps from one fire time to the next without sleeping (tests,
and ``finml replay``, which drives simulated days). Each pass asks
:func:`finml.bundle.schedules.due_runs` what is due since each job's last fire time, runs
those jobs one at a time in (fire time, job) order — so ``max_concurrent_runs: 1`` holds and
fire times missed while a run was busy coalesce into one run — and records each fire in
the ``scheduler_fires`` Delta table, from which a restarted scheduler takes each job's last
fire time and so never fires a time again. A fire is recorded when its run ends (success or
failure, like a Databricks scheduled run, is not retried by the scheduler); a scheduler
killed during a run fires that time again on restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from finml.bundle.schedules import DueRun, JobSchedule, due_runs, next_fire_time
from finml.errors import FinmlError
from finml.log import get_logger
from finml.vocabulary import RunState

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("jobs.scheduler")

FIRES_TABLE = "scheduler_fires"
FIRES_SCHEMA = pa.schema(
    [
        ("target", pa.string()),
        ("job", pa.string()),
        ("fire_time", pa.timestamp("us", tz="UTC")),
        ("first_fire_time", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
        ("ok", pa.bool_()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("ended_at", pa.timestamp("us", tz="UTC")),
        ("message", pa.string()),
    ]
)


class Clock(Protocol):
    """What time it is, and waiting for a later time."""

    def now(self) -> datetime: ...

    def sleep_until(self, instant: datetime) -> None: ...


class SystemClock:
    """The machine's clock (UTC); ``sleep_until`` really sleeps."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, instant: datetime) -> None:
        time.sleep(max(0.0, (instant - self.now()).total_seconds()))


class SimulatedClock:
    """A clock that moves only when told: ``sleep_until`` jumps to the instant at once."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def sleep_until(self, instant: datetime) -> None:
        self._now = max(self._now, _aware(instant))

    def advance(self, delta: timedelta) -> None:
        self._now += delta


@dataclass(frozen=True)
class Fire:
    """One scheduled run: what it stood for, and how it ended (a ``scheduler_fires`` row)."""

    target: str
    job: str
    fire_time: datetime
    first_fire_time: datetime
    run_id: str | None
    ok: bool
    started_at: datetime
    ended_at: datetime
    message: str | None = None


@dataclass(frozen=True)
class Launched:
    """What a launcher reports about the run it started."""

    run_id: str | None
    ok: bool
    message: str | None = None


Launcher = Callable[[DueRun], Launched]


class FireLog(Protocol):
    """Where fires are kept: the last fire time per job survives a restart."""

    def last_fired(self, target: str) -> dict[str, datetime]: ...

    def record(self, fire: Fire) -> None: ...


class MemoryFireLog:
    """Fires kept in memory (tests, dry runs)."""

    def __init__(self) -> None:
        self.fires: list[Fire] = []

    def last_fired(self, target: str) -> dict[str, datetime]:
        return _latest((f.job, f.fire_time) for f in self.fires if f.target == target)

    def record(self, fire: Fire) -> None:
        self.fires.append(fire)


class DeltaFireLog:
    """Fires in the ``scheduler_fires`` Delta table (delta-rs, no Spark: small rows)."""

    def __init__(self, tables: DeltaTables) -> None:
        self.table = tables.table(FIRES_TABLE)

    def last_fired(self, target: str) -> dict[str, datetime]:
        if not self.table.exists():
            return {}
        rows = self.table.to_arrow().select(["target", "job", "fire_time"]).to_pylist()
        return _latest((r["job"], r["fire_time"]) for r in rows if r["target"] == target)

    def record(self, fire: Fire) -> None:
        row = pa.Table.from_pylist([asdict(fire)], schema=FIRES_SCHEMA)
        self.table.append(row, metadata={"finml.scheduler_fire": f"{fire.job}@{fire.fire_time}"})


class Scheduler:
    """Fires ``schedules`` on ``clock`` through ``launch``, remembering fires in ``fires``.

    Jobs never fired by this log count from ``since`` (default: the clock's time when the
    scheduler is made), so starting a scheduler does not replay the past.
    """

    def __init__(
        self,
        schedules: Sequence[JobSchedule],
        launch: Launcher,
        *,
        clock: Clock | None = None,
        fires: FireLog | None = None,
        target: str = "local",
        since: datetime | None = None,
        poll_seconds: float | None = 60.0,
        on_start: Callable[[DueRun], None] | None = None,
        on_fire: Callable[[Fire], None] | None = None,
    ) -> None:
        self.schedules = list(schedules)
        self.launch = launch
        self.clock: Clock = clock or SystemClock()
        self.fires: FireLog = fires or MemoryFireLog()
        self.target = target
        self.since = _aware(since) if since is not None else self.clock.now()
        self.poll = timedelta(seconds=poll_seconds) if poll_seconds else None
        self.on_start, self.on_fire = on_start, on_fire
        self._last = self.fires.last_fired(target)  # this process is the only writer

    @property
    def last_fired(self) -> dict[str, datetime]:
        return dict(self._last)

    def due(self) -> list[DueRun]:
        """The runs due now, in the order a pass runs them."""
        return due_runs(self.schedules, self._last, self.clock.now(), since=self.since)

    def next_fire_time(self) -> datetime | None:
        return next_fire_time(self.schedules, self._last, self.clock.now(), since=self.since)

    def run_pending(self) -> list[Fire]:
        """One pass: run every due job, one at a time; return their fires."""
        done = []
        for due in self.due():
            done.append(self._fire(due))
        return done

    def run(self, *, until: datetime | None = None, once: bool = False) -> list[Fire]:
        """Pass after pass until the clock reaches ``until`` (forever without it), or one
        pass with ``once``. Between passes the clock sleeps to the next fire time (at most
        ``poll_seconds``; None: no limit, for a simulated clock). Returns when nothing can
        fire any more. Returns every fire, in order."""
        until = _aware(until) if until is not None else None
        done: list[Fire] = []
        while True:
            done += self.run_pending()
            now = self.clock.now()
            if once or (until is not None and now >= until):
                return done
            following = self.next_fire_time()
            if following is None and until is None:
                return done  # nothing unpaused will ever fire again
            wake = [t for t in (following, until) if t is not None]
            if self.poll is not None:
                wake.append(now + self.poll)
            self.clock.sleep_until(min(wake))

    def _fire(self, due: DueRun) -> Fire:
        log.info(
            "schedule_fired",
            job=due.job,
            fire_time=due.fire_time.isoformat(),
            first_fire_time=due.first_fire_time.isoformat(),
            target=self.target,
        )
        if self.on_start is not None:
            self.on_start(due)
        started = datetime.now(UTC)
        try:
            launched = self.launch(due)
        except FinmlError as exc:  # e.g. the bundle became invalid since the scheduler started
            launched = Launched(None, False, str(exc))
        fire = Fire(
            self.target,
            due.job,
            due.fire_time,
            due.first_fire_time,
            launched.run_id,
            launched.ok,
            started,
            datetime.now(UTC),
            launched.message,
        )
        self.fires.record(fire)
        self._last[due.job] = due.fire_time
        log.info("schedule_run_finished", job=due.job, run_id=fire.run_id, ok=fire.ok)
        if self.on_fire is not None:
            self.on_fire(fire)
        return fire


def runner_launcher(
    config: ProjectConfig,
    *,
    root: str | Path = ".",
    target: str = "local",
    variables: dict[str, str] | None = None,
    in_process: bool = False,
) -> Launcher:
    """A launcher that runs the job with the local job runner (``finml job run``); with
    ``in_process`` its tasks run in this process (see :func:`finml.jobs.runner.run_job`)."""
    from finml.jobs.runner import run_job

    def launch(due: DueRun) -> Launched:
        run = run_job(
            config,
            due.job,
            root=root,
            target=target,
            variables=variables,
            trigger_time=due.fire_time,
            in_process=in_process,
        )
        failed = [
            f"{k}={s}"
            for k, s in run.states.items()
            if s not in (RunState.SUCCESS, RunState.EXCLUDED)
        ]
        return Launched(run.run_id, run.ok, None if run.ok else ", ".join(failed))

    return launch


def _latest(pairs: Iterable[tuple[str, datetime]]) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for job, fired in pairs:
        at = _aware(fired)
        if job not in out or at > out[job]:
            out[job] = at
    return out


def _aware(instant: datetime) -> datetime:
    """``instant`` in UTC; a naive datetime is taken to be UTC."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
