"""The local scheduler on a simulated clock: Quartz fire times (the repo's own schedules,
time zones, L/W/#, years), pause, coalescing, one run at a time, restart without re-fire,
and bad expressions named with their job. No Spark, no sleeping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from finml.bundle.cron import QuartzCron
from finml.bundle.schedules import DueRun, JobSchedule, due_runs, load_schedules
from finml.cli.common import State
from finml.cli.scheduler import register
from finml.config import ProjectConfig
from finml.errors import JobError, ScheduleError
from finml.jobs.scheduler import (
    DeltaFireLog,
    Launched,
    MemoryFireLog,
    Scheduler,
    SimulatedClock,
)

REPO = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
NY = ZoneInfo("America/New_York")


def at(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def fires(expression: str, start: datetime, n: int, tz: str = "UTC") -> list[datetime]:
    cron, out, t = QuartzCron(expression, tz), [], start
    for _ in range(n):
        t = cron.next_after(t)
        if t is None:
            break
        out.append(t)
    return out


def schedule(job: str, expression: str, tz: str = "UTC", paused: bool = False) -> JobSchedule:
    return JobSchedule(job, QuartzCron(expression, tz), paused, f"resources/{job}.yml")


class Recorder:
    """A launcher that records what ran, refuses overlapping runs and may take (simulated)
    time or fail."""

    def __init__(self, clock: SimulatedClock | None = None, minutes: dict[str, int] | None = None):
        self.clock, self.minutes = clock, minutes or {}
        self.ran: list[tuple[str, datetime, datetime]] = []
        self.running = False
        self.fail: set[str] = set()

    def __call__(self, due: DueRun) -> Launched:
        assert not self.running, "two runs at once"
        self.running = True
        self.ran.append((due.job, due.first_fire_time, due.fire_time))
        if self.clock is not None and due.job in self.minutes:
            self.clock.advance(timedelta(minutes=self.minutes[due.job]))
        self.running = False
        return Launched(f"run-{len(self.ran)}", due.job not in self.fail, None)


# ---- the repo's own schedules ---------------------------------------------------------------


def test_the_repo_schedules_resolve_per_target_and_pause_outside_local_and_prd() -> None:
    local = {s.job: s for s in load_schedules(REPO, "local")}
    assert {job: s.expression for job, s in local.items()} == {
        "batch_inference_job": "0 5 * * * ?",
        "dashboard_export_job": "0 15 * * * ?",
        "drift_monitoring_workflow": "0 0/30 * * * ?",
        "ingestion_workflow": "0 0/15 * * * ?",
        "retraining_workflow": "0 0 2 * * ?",
    }
    assert not any(s.paused for s in local.values())
    assert all(s.paused for s in load_schedules(REPO, "dev"))  # ${var.pause_status} default
    assert not any(s.paused for s in load_schedules(REPO, "prd"))
    overridden = load_schedules(REPO, "local", {"pause_status": "PAUSED"}, ["ingestion_workflow"])
    assert [(s.job, s.paused) for s in overridden] == [("ingestion_workflow", True)]


def test_due_runs_of_the_repo_schedules_in_fire_time_then_job_order() -> None:
    schedules = load_schedules(REPO, "local")
    due = due_runs(schedules, {}, at("2026-01-05T00:20"), since=T0)
    assert [(d.job, d.fire_time) for d in due] == [
        ("batch_inference_job", at("2026-01-05T00:05")),
        ("dashboard_export_job", at("2026-01-05T00:15")),
        ("ingestion_workflow", at("2026-01-05T00:15")),
    ]
    # A fire time equal to `since` is not due (it belongs to before the scheduler started).
    assert due_runs(schedules, {}, T0, since=T0) == []


def test_a_simulated_day_fires_every_repo_schedule_the_right_number_of_times() -> None:
    clock = SimulatedClock(T0)
    launch = Recorder()
    scheduler = Scheduler(load_schedules(REPO, "local"), launch, clock=clock, poll_seconds=None)
    done = scheduler.run(until=T0 + timedelta(days=1))
    counts: dict[str, int] = {}
    for fire in done:
        counts[fire.job] = counts.get(fire.job, 0) + 1
    assert counts == {
        "ingestion_workflow": 96,
        "drift_monitoring_workflow": 48,
        "batch_inference_job": 24,
        "dashboard_export_job": 24,
        "retraining_workflow": 1,
    }
    assert all(not fire.first_fire_time < fire.fire_time for fire in done)  # nothing coalesced
    order = [(fire.fire_time, fire.job) for fire in done]
    assert order == sorted(order)  # one at a time, (fire time, job) order
    assert clock.now() == T0 + timedelta(days=1)


def test_paused_jobs_never_fire() -> None:
    schedules = [schedule("a", "0 0/15 * * * ?", paused=True), schedule("b", "0 0 * * * ?")]
    launch = Recorder()
    Scheduler(schedules, launch, clock=SimulatedClock(T0), poll_seconds=None).run(
        until=T0 + timedelta(hours=3)
    )
    assert [job for job, _, _ in launch.ran] == ["b", "b", "b"]


# ---- coalescing, concurrency, restarts ------------------------------------------------------


def test_missed_fire_times_coalesce_into_one_run_for_the_latest() -> None:
    launch = Recorder()
    scheduler = Scheduler(
        [schedule("ingest", "0 0/15 * * * ?"), schedule("daily", "0 0 2 * * ?")],
        launch,
        clock=SimulatedClock(T0 + timedelta(hours=3, minutes=7)),
        since=T0,
    )
    done = scheduler.run(once=True)
    assert [(f.job, f.first_fire_time, f.fire_time) for f in done] == [
        ("daily", at("2026-01-05T02:00"), at("2026-01-05T02:00")),
        ("ingest", at("2026-01-05T00:15"), at("2026-01-05T03:00")),
    ]
    assert scheduler.run(once=True) == []  # nothing fires twice


def test_a_run_longer_than_its_period_is_followed_by_one_coalesced_run() -> None:
    clock = SimulatedClock(T0)
    launch = Recorder(clock, minutes={"slow": 40})  # every run takes 40 (simulated) minutes
    schedules = [schedule("slow", "0 0/15 * * * ?"), schedule("other", "0 0/10 * * * ?")]
    Scheduler(schedules, launch, clock=clock, poll_seconds=None).run(until=T0 + timedelta(hours=1))
    assert [
        (job, first.strftime("%H:%M"), last.strftime("%H:%M")) for job, first, last in launch.ran
    ] == [
        ("other", "00:10", "00:10"),
        ("slow", "00:15", "00:15"),  # runs 00:15-00:55
        # due at 00:55, in fire time order: one run each for what was missed meanwhile
        ("slow", "00:30", "00:45"),  # runs 00:55-01:35
        ("other", "00:20", "00:50"),
    ]  # 01:35 is past --until: the loop ends
    assert not launch.running


def test_a_failed_run_is_recorded_and_the_scheduler_goes_on() -> None:
    launch = Recorder()
    launch.fail.add("bad")
    log = MemoryFireLog()
    schedules = [schedule("bad", "0 0 * * * ?"), schedule("good", "0 30 * * * ?")]
    done = Scheduler(schedules, launch, clock=SimulatedClock(T0), fires=log, poll_seconds=None).run(
        until=T0 + timedelta(hours=2)
    )
    assert [(f.job, f.ok) for f in done] == [
        ("good", True),
        ("bad", False),
        ("good", True),
        ("bad", False),
    ]
    assert log.fires == done


def test_a_launcher_error_becomes_a_failed_fire_naming_it() -> None:
    def launch(due: DueRun) -> Launched:
        raise JobError("bundle is invalid: resources/x.yml: boom")

    done = Scheduler(
        [schedule("a", "0 0 * * * ?")], launch, clock=SimulatedClock(T0), poll_seconds=None
    ).run(until=T0 + timedelta(hours=1))
    assert [(f.job, f.ok, f.run_id, f.message) for f in done] == [
        ("a", False, None, "bundle is invalid: resources/x.yml: boom")
    ]


def test_a_restarted_scheduler_does_not_fire_again_what_already_ran(tmp_path: Path) -> None:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    tables = DeltaTables.from_config(ProjectConfig(home=tmp_path / "home"), None)
    schedules = [schedule("ingest", "0 0/15 * * * ?"), schedule("hourly", "0 0 * * * ?")]
    first = Recorder()
    Scheduler(
        schedules, first, clock=SimulatedClock(T0), fires=DeltaFireLog(tables), poll_seconds=None
    ).run(until=T0 + timedelta(hours=1))
    assert len(first.ran) == 5  # ingest 00:15..01:00, hourly 01:00

    # A new process, same home: it reads the last fire times back from the Delta table.
    again = Recorder()
    restarted = Scheduler(
        schedules,
        again,
        clock=SimulatedClock(T0 + timedelta(hours=1)),
        fires=DeltaFireLog(tables),
        since=T0,  # would re-fire everything from T0 without the recorded fires
        poll_seconds=None,
    )
    assert restarted.last_fired == {
        "ingest": at("2026-01-05T01:00"),
        "hourly": at("2026-01-05T01:00"),
    }
    assert restarted.run(once=True) == []
    restarted.clock.sleep_until(T0 + timedelta(hours=1, minutes=20))
    assert [(f.job, f.fire_time) for f in restarted.run(once=True)] == [
        ("ingest", at("2026-01-05T01:15"))
    ]
    assert DeltaFireLog(tables).last_fired("other-target") == {}


def test_the_loop_returns_when_nothing_can_fire_again() -> None:
    launch = Recorder()
    scheduler = Scheduler(
        [schedule("once", "0 0 12 5 1 ? 2026")], launch, clock=SimulatedClock(T0), poll_seconds=None
    )
    done = scheduler.run()  # no --until: returns after the expression's last fire time
    assert [(f.job, f.fire_time) for f in done] == [("once", at("2026-01-05T12:00"))]


# ---- Quartz semantics -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "shown", "expected"),
    [
        ("0 0/15 * * * ?", "%H:%M", ["00:15", "00:30", "00:45"]),
        ("30 5 * * * ?", "%H:%M:%S", ["00:05:30", "01:05:30", "02:05:30"]),
        ("0 0 12 ? * 2-6", "%m-%d", ["01-05", "01-06", "01-07"]),  # MON-FRI: 2 = MON in Quartz
        ("0 0 12 ? * 1,7", "%m-%d", ["01-10", "01-11", "01-17"]),  # SAT, SUN
        ("0 0 12 ? * MON-FRI/2", "%m-%d", ["01-05", "01-07", "01-09"]),
        ("0 0 12 ? * 6#3", "%m-%d", ["01-16", "02-20", "03-20"]),  # third Friday
        ("0 0 12 ? * 6L", "%m-%d", ["01-30", "02-27", "03-27"]),  # last Friday
        ("0 0 12 ? * L", "%m-%d", ["01-10", "01-17", "01-24"]),  # L alone: Saturday
        ("0 0 12 L * ?", "%m-%d", ["01-31", "02-28", "03-31"]),
        ("0 0 12 15W * ?", "%m-%d", ["01-15", "02-16", "03-16"]),  # 2026-02-15 is a Sunday
        ("0 0 12 1 1 ? 2027", "%Y-%m-%d", ["2027-01-01"]),  # croniter alone finds no date
        ("0 0 12 1 1,7 ? 2027-2028", "%Y-%m-%d", ["2027-01-01", "2027-07-01", "2028-01-01"]),
    ],
)
def test_quartz_expressions(expression: str, shown: str, expected: list[str]) -> None:
    got = fires(expression, T0, len(expected) + 1)
    assert [t.strftime(shown) for t in got[: len(expected)]] == expected
    if expression.endswith("2027"):
        assert len(got) == 1  # and never again


def test_latest_at_or_before_is_inclusive_and_respects_years() -> None:
    cron = QuartzCron("0 0/15 * * * ?")
    assert cron.latest_at_or_before(at("2026-01-05T00:15")) == at("2026-01-05T00:15")
    assert cron.latest_at_or_before(at("2026-01-05T00:14:59.9")) == at("2026-01-05T00:00")
    once = QuartzCron("0 0 12 1 1 ? 2027")
    assert once.latest_at_or_before(at("2030-06-01")) == at("2027-01-01T12:00")
    assert once.latest_at_or_before(at("2026-06-01")) is None
    assert QuartzCron("0 0 12 31 2 ?").next_after(T0) is None  # valid Quartz, never fires


def test_timezone_id_is_honoured_across_daylight_saving() -> None:
    amsterdam = fires("0 0 9 ? * MON", at("2026-03-20"), 3, "Europe/Amsterdam")
    assert [t.strftime("%m-%d %H:%M") for t in amsterdam] == [
        "03-23 08:00",  # CET, UTC+1
        "03-30 07:00",  # CEST from 03-29, UTC+2
        "04-06 07:00",
    ]
    # Spring forward (2026-03-08, New York): 02:30 does not exist that day: skipped.
    daily = fires("0 30 2 * * ?", at("2026-03-07T00:00"), 3, "America/New_York")
    assert [t.astimezone(NY).strftime("%m-%d %H:%M") for t in daily] == [
        "03-07 02:30",
        "03-09 02:30",
        "03-10 02:30",
    ]
    # Fall back (2026-11-01): 01:30 happens twice; it fires once, at the first.
    twice = fires("0 30 1 * * ?", at("2026-10-31T12:00"), 2, "America/New_York")
    assert twice == [at("2026-11-01T05:30"), at("2026-11-02T06:30")]
    # Inside the repeated hour's second pass, the latest fire is the first pass's 01:30.
    half = QuartzCron("0 0/30 * * * ?", "America/New_York")
    assert half.latest_at_or_before(at("2026-11-01T06:10")) == at("2026-11-01T05:30")
    assert half.next_after(at("2026-11-01T06:10")) == at("2026-11-01T07:00")


@settings(max_examples=150, deadline=None)
@given(
    minute=st.sampled_from(["*", "0", "7", "0/15", "5/20", "10-20", "1,31,59"]),
    hour=st.sampled_from(["*", "0", "9-17", "0/6", "23"]),
    dow=st.sampled_from(["?", "2-6", "1", "7", "SUN,WED", "6#2", "2L"]),
    start=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 1)),
)
def test_next_after_equals_a_minute_by_minute_scan(minute, hour, dow, start) -> None:
    """Against a brute-force reference written from Quartz's definitions (UTC)."""
    dom = "*" if dow == "?" else "?"
    expression = f"0 {minute} {hour} {dom} * {dow}"
    start = start.replace(tzinfo=UTC)
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(60 * 24 * 40):
        wanted = _in_field(t.minute, minute, 59) and _in_field(t.hour, hour, 23)
        if wanted and (dow == "?" or _dow_matches(t, dow)):
            break
        t += timedelta(minutes=1)
    assert QuartzCron(expression).next_after(start) == t


def _in_field(v: int, field: str, hi: int) -> bool:
    for part in field.split(","):
        if part == "*":
            return True
        base, _, step = part.partition("/")
        a, _, b = base.partition("-")
        first = int(a)
        last = int(b) if b else (hi if step else first)
        if first <= v <= last and (v - first) % int(step or 1) == 0:
            return True
    return False


def _dow_matches(t: datetime, dow: str) -> bool:
    quartz = (t.isoweekday() % 7) + 1  # 1 = SUN .. 7 = SAT
    names = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
    if "#" in dow:
        day, nth = dow.split("#")
        return quartz == int(day) and (t.day - 1) // 7 + 1 == int(nth)
    if dow.endswith("L"):
        return quartz == int(dow[:-1]) and (t + timedelta(days=7)).month != t.month
    days = set()
    for part in dow.split(","):
        a, _, b = part.partition("-")
        na = names.index(a) + 1 if a in names else int(a)
        nb = (names.index(b) + 1 if b in names else int(b)) if b else na
        days.update(range(na, nb + 1))
    return quartz in days


# ---- bad expressions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("0 0 12 * *", "5 fields"),
        ("0 0 12 * * *", "'?' must be in exactly one of day-of-month and day-of-week"),
        ("0 0 12 ? * ?", "'?' must be in exactly one"),
        ("0 0 12 LW * ?", "'LW' and 'L-n' in day-of-month are not supported locally"),
        ("0 0 12 L-3 * ?", "'LW' and 'L-n'"),
        ("0 0 12 ? * 0", "day-of-week values are 1-7 (1 = SUN), got 0"),
        ("0 0 25 * * ?", "out of range"),
        ("0 H * * * ?", "H and R (hashed or random values) are not Quartz"),
        ("0 0 12 ? * FUNDAY", "expected a day of the week"),
    ],
)
def test_bad_expressions_are_named(expression: str, says: str) -> None:
    with pytest.raises(ScheduleError) as info:
        QuartzCron(expression)
    assert f"got {expression!r}" in str(info.value)
    assert says in str(info.value)


def test_a_bad_time_zone_is_named() -> None:
    with pytest.raises(
        ScheduleError, match=r"timezone_id: expected an IANA time zone.*'Mars/Base'"
    ):
        QuartzCron("0 0 * * * ?", "Mars/Base")


def test_a_bad_schedule_in_a_bundle_names_file_job_and_expression(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        job["resources"]["jobs"]["tiny_job"]["schedule"]["quartz_cron_expression"] = "0 0 12 * * *"

    with pytest.raises(JobError) as info:
        load_schedules(make_bundle(edit), "local")
    assert (
        "resources/tiny.yml: resources.jobs.tiny_job.schedule.quartz_cron_expression: expected a "
        "Quartz cron expression (seconds minutes hours day-of-month month day-of-week [year]), "
        "got '0 0 12 * * *'"
    ) in str(info.value)


def test_a_selected_job_without_a_schedule_is_an_error(make_bundle) -> None:
    root = make_bundle(lambda r, job: job["resources"]["jobs"]["tiny_job"].pop("schedule"))
    assert load_schedules(root, "local") == []
    with pytest.raises(JobError, match=r"resources.jobs.tiny_job: expected a schedule block"):
        load_schedules(root, "local", jobs=["tiny_job"])
    with pytest.raises(JobError, match=r"job 'nope': expected one of \['tiny_job'\]"):
        load_schedules(root, "local", jobs=["nope"])


# ---- the CLI's arguments (no runs: those are integration tests) ---------------------------


def cli(tmp_path: Path, *args: str) -> Result:
    root = typer.Typer()

    @root.callback()
    def _state(ctx: typer.Context) -> None:
        ctx.obj = State(_config=ProjectConfig(home=tmp_path / "home"))

    register(root)
    return CliRunner().invoke(root, ["scheduler", *args])


def test_next_lists_the_repo_schedules_after_a_given_time(tmp_path: Path) -> None:
    after = ["--root", str(REPO), "--after", "2026-01-05T00:20:00Z"]
    result = cli(tmp_path, "next", *after, "--count", "2", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["job"]: row for row in json.loads(result.stdout)}
    assert rows["ingestion_workflow"]["next"] == [
        "2026-01-05T00:30:00+00:00",
        "2026-01-05T00:45:00+00:00",
    ]
    assert rows["retraining_workflow"]["next"] == [
        "2026-01-05T02:00:00+00:00",
        "2026-01-06T02:00:00+00:00",
    ]
    assert rows["retraining_workflow"]["file"] == "resources/retraining.yml"
    paused = cli(tmp_path, "next", *after, "--target", "dev", "--json")
    assert all(row["paused"] and row["next"] == [] for row in json.loads(paused.stdout))


def test_run_refuses_when_every_selected_job_is_paused(tmp_path: Path) -> None:
    result = cli(tmp_path, "run", "--root", str(REPO), "--target", "dev", "--once")
    assert result.exit_code == 1
    assert "nothing to schedule for target dev" in result.output
    assert "--var pause_status=UNPAUSED" in result.output


def test_run_usage_errors_exit_2(tmp_path: Path) -> None:
    bad_time = cli(tmp_path, "run", "--root", str(REPO), "--once", "--until", "tomorrow")
    assert bad_time.exit_code == 2
    assert "--until: expected an ISO time like 2026-01-05T09:30:00Z, got 'tomorrow'" in (
        bad_time.output
    )
    backwards = cli(
        tmp_path, "run", "--root", str(REPO), "--simulate",
        "--since", "2026-01-05T02:00Z", "--until", "2026-01-05T01:00Z",
    )  # fmt: skip
    assert backwards.exit_code == 2
    assert "--until: expected a time after --since" in backwards.output
