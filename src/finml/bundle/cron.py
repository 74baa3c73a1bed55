"""Quartz cron expressions (a bundle job's ``schedule``) evaluated on this machine.

Databricks schedules are Quartz: seconds first, 6 or 7 fields (the 7th is the year), ``?`` in
exactly one of day-of-month and day-of-week, day-of-week counted 1 = SUN .. 7 = SAT, ``L``
(last day of the month; ``6L`` the last Friday), ``W`` (``15W``: the weekday nearest the
15th) and ``#`` (``6#3``: the third Friday). croniter evaluates the expression after a small
translation into its dialect (day-of-week numbers shifted to 0 = SUN, ``6L`` -> ``L5``,
``?`` -> ``*``); the year field is applied here, because croniter misses a single-year date
(``0 0 12 1 1 ? 2027``). ``LW`` and ``L-n`` are rejected, naming the expression.

Fire times follow the job's wall clock (``timezone_id``), and each wall-clock time fires at
most once: a time that does not exist (the spring-forward gap) is skipped, a time that
occurs twice (fall back) fires at its first occurrence. Databricks documents that a
schedule in a zone with daylight saving time may skip or shift a run around the change.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from finml.errors import ScheduleError

_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_HASH = re.compile(r"(^|,)[HR](\(|/|,|$)")  # croniter's Jenkins-style H/R: not Quartz
_LAST_DOW = re.compile(r"^(\w+)L$")
_NTH_DOW = re.compile(r"^(\w+)#(\d+)$")
_RANGE_DOW = re.compile(r"^(\*|\w+)(?:-(\w+))?(?:/(\d+))?$")
_FIELDS = "seconds minutes hours day-of-month month day-of-week [year]"
_MAX_STEPS = 200_000  # one per candidate wall time; a per-second cron over a DST hour is 3,600


class QuartzCron:
    """A validated Quartz cron expression in a time zone.

    Raises:
        ScheduleError: the expression is not Quartz, uses a feature croniter cannot
            evaluate, or the time zone is unknown; the message quotes the expression.
    """

    def __init__(self, expression: str, timezone_id: str = "UTC") -> None:
        self.expression = expression
        self.timezone_id = timezone_id
        try:
            self.zone = ZoneInfo(timezone_id)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(
                f"timezone_id: expected an IANA time zone (e.g. UTC, Europe/Amsterdam), "
                f"got {timezone_id!r}"
            ) from None
        self._cron, year = _translate(expression)
        try:
            expanded, _ = croniter.expand(
                self._cron + (f" {year}" if year else ""), second_at_beginning=True
            )
        except CroniterError as exc:
            detail = re.sub(r"^\[[^\]]*\]\s*(is not acceptable[.,]?\s*)?", "", str(exc))
            raise _bad(expression, f"a field is out of range or malformed ({detail})") from None
        years = expanded[6] if year else ["*"]
        self._years = None if years == ["*"] else tuple(sorted(int(y) for y in years))

    def __repr__(self) -> str:
        return f"QuartzCron({self.expression!r}, {self.timezone_id!r})"

    def next_after(self, instant: datetime) -> datetime | None:
        """The first fire time strictly after ``instant`` (aware), in UTC; None if none."""
        wall = _wall(instant, self.zone)
        it = self._iter(wall)
        for _ in range(_MAX_STEPS):
            try:
                candidate = it.get_next(datetime)
            except CroniterBadDateError:
                return None
            if self._years is not None and candidate.year not in self._years:
                later = [y for y in self._years if y > candidate.year]
                if not later:
                    return None
                it = self._iter(datetime(later[0], 1, 1) - timedelta(seconds=1))
                continue
            at = _instant(candidate, self.zone)
            if at is not None and at > instant:
                return at
        return None

    def latest_at_or_before(self, instant: datetime) -> datetime | None:
        """The last fire time at or before ``instant`` (aware), in UTC; None if none."""
        local = instant.astimezone(self.zone)
        wall = local.replace(tzinfo=None)
        if local.fold:  # the repeated hour's second pass: its first-pass walls are earlier
            wall += local.replace(fold=0).utcoffset() - local.utcoffset()  # type: ignore[operator]
        it = self._iter(wall.replace(microsecond=0) + timedelta(seconds=1))
        for _ in range(_MAX_STEPS):
            try:
                candidate = it.get_prev(datetime)
            except CroniterBadDateError:
                return None
            if self._years is not None and candidate.year not in self._years:
                earlier = [y for y in self._years if y < candidate.year]
                if not earlier:
                    return None
                it = self._iter(datetime(earlier[-1] + 1, 1, 1))
                continue
            at = _instant(candidate, self.zone)
            if at is not None and at <= instant:
                return at
        return None

    def _iter(self, wall: datetime) -> croniter:
        return croniter(self._cron, wall, second_at_beginning=True)


def _bad(expression: str, detail: str) -> ScheduleError:
    return ScheduleError(
        f"quartz_cron_expression: expected a Quartz cron expression ({_FIELDS}), "
        f"got {expression!r}: {detail}"
    )


def _translate(expression: str) -> tuple[str, str | None]:
    """Quartz -> croniter (6 fields, seconds first) and the year field (or None)."""
    fields = expression.split()
    if len(fields) not in (6, 7):
        raise _bad(expression, f"{len(fields)} fields")
    second, minute, hour, dom, month, dow = (f.upper() for f in fields[:6])
    year = fields[6] if len(fields) == 7 else None
    if (dom == "?") == (dow == "?"):
        raise _bad(expression, "'?' must be in exactly one of day-of-month and day-of-week")
    if any(_HASH.search(f) for f in (second, minute, hour, dom, month, dow)):
        raise _bad(expression, "H and R (hashed or random values) are not Quartz")
    if "LW" in dom or re.search(r"L-\d", dom):
        raise _bad(expression, "'LW' and 'L-n' in day-of-month are not supported locally")
    if "?" in dom + dow and "?" not in (dom, dow):
        raise _bad(expression, "'?' must be the whole field")
    try:
        dow_cron = "*" if dow == "?" else ",".join(_dow_item(i) for i in dow.split(","))
    except ValueError as exc:
        raise _bad(expression, str(exc)) from None
    dom_cron = "*" if dom == "?" else dom
    return " ".join((second, minute, hour, dom_cron, month, dow_cron)), year


def _dow_item(item: str) -> str:
    """One day-of-week list item, Quartz (1 = SUN) -> croniter (0 = SUN)."""
    if item == "L":  # alone in day-of-week: the last day of the week, Saturday
        return "6"
    if match := _LAST_DOW.match(item):
        return f"L{_day(match.group(1))}"
    if match := _NTH_DOW.match(item):
        return f"{_day(match.group(1))}#{match.group(2)}"
    if match := _RANGE_DOW.match(item):
        start, end, step = match.groups()
        text = start if start == "*" else _day(start)
        text += f"-{_day(end)}" if end else ""
        return text + (f"/{step}" if step else "")
    raise ValueError(f"day-of-week item {item!r} is not Quartz")


def _day(token: str) -> str:
    if token.isdigit():
        number = int(token)
        if not 1 <= number <= 7:
            raise ValueError(f"day-of-week values are 1-7 (1 = SUN), got {number}")
        return str(number - 1)
    if token in _DAYS:
        return str(_DAYS.index(token))
    raise ValueError(f"expected a day of the week (1-7 or SUN-SAT), got {token!r}")


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"expected an aware datetime, got naive {instant.isoformat()}")
    return instant.astimezone(zone).replace(tzinfo=None)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of wall time ``wall`` (first occurrence); None in a DST gap."""
    at = wall.replace(tzinfo=zone).astimezone(UTC)
    return at if at.astimezone(zone).replace(tzinfo=None) == wall else None
