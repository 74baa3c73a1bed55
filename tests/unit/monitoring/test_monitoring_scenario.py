"""Acceptance: the simulator's drift is flagged within one window of its start, and a
stationary market over >= 40 windows raises at most 5 % false alarms.

Windows are New-York trading days; the reference is the first five days; the monitored
quantities are trade-level log returns, log volumes, inter-trade gaps and session shares.
The gate is PSI / JS distance with the default thresholds (KS p-values are reported but
not gated). The no-drift market pins the hidden regime chain: regime switches are real
distribution shifts and would rightly be flagged.
"""

from __future__ import annotations

from datetime import date

from finml.config import ProjectConfig
from finml.jobs.monitoring import run_drift_scenario


def test_drift_is_flagged_within_one_window_of_its_start(tmp_path) -> None:
    check = run_drift_scenario(ProjectConfig(home=tmp_path), days=20, drift_day=12, seed=7)
    starts = [r.window.start.date() for r in check.reports]
    drift_start = date(2024, 1, 24)  # trading day 12 after 2024-01-08
    first_flag = next(r.window.start.date() for r in check.reports if r.severity != "NONE")
    assert starts.index(first_flag) - starts.index(drift_start) in (0, 1)
    before = [r for r in check.reports if r.window.start.date() < drift_start]
    after = [r for r in check.reports if r.window.start.date() >= drift_start]
    assert all(r.severity == "NONE" for r in before)
    assert all(r.severity == "HIGH" for r in after)
    assert all("log_return" in {c.column_name for c in r.drifted} for r in after)


def test_no_drift_false_alarm_rate_is_at_most_five_percent(tmp_path) -> None:
    check = run_drift_scenario(ProjectConfig(home=tmp_path), days=46, drift_day=None, seed=11)
    assert len(check.reports) >= 40
    assert len(check.flagged) / len(check.reports) <= 0.05
