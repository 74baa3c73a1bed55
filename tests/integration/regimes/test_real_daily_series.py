"""A real daily series: the S&P 500, 1999-2018 (the daily OHLCV the ``arch`` package ships),
written in Alpha Vantage's CSV layout and fed to ``finml regimes --input`` as a user would.
The crises of those years must come out as Crisis -- in the smoothed labels and, online,
in the filtered probabilities -- and the calmest year as Normal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.integration

CRISES = {
    "Lehman to the March 2009 low": ("2008-09-15", "2009-03-31"),
    "the August 2011 downgrade": ("2011-08-04", "2011-10-04"),
    "the 2002 bear market": ("2002-07-01", "2002-10-31"),
}


def _alpha_vantage_csv(path: Path) -> Path:
    from arch.data import sp500

    daily = sp500.load().reset_index()
    daily.columns = [c.lower() for c in daily.columns]
    frame = pd.DataFrame(
        {
            "timestamp": daily["date"].dt.strftime("%Y-%m-%d"),
            **{c: daily[c] for c in ("open", "high", "low", "close", "volume")},
        }
    )
    frame.iloc[::-1].to_csv(path, index=False)  # newest first, as Alpha Vantage serves it
    return path


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("spx")
    source, output = _alpha_vantage_csv(folder / "daily_SPX.csv"), folder / "regimes.csv"
    env = {**os.environ, "FINML_HOME": str(folder / "home"), "PYTHONPATH": str(REPO / "src")}
    args = ["regimes", "--input", str(source), "--symbol", "SPX", "--no-model", "--output"]
    result = subprocess.run(
        [sys.executable, "-c", "from finml.cli import main; main()", *args, str(output)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SPX 2018-12-31" in result.stdout
    rows = pd.read_csv(output, parse_dates=["trade_date"])
    assert len(rows) == 5031 and set(rows["symbol"]) == {"SPX"}
    return rows


def _days(rows: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    return rows[(rows["trade_date"] >= start) & (rows["trade_date"] <= end)]


@pytest.mark.parametrize("crisis", sorted(CRISES))
def test_crises_are_labelled_crisis(labelled: pd.DataFrame, crisis: str) -> None:
    days = _days(labelled, *CRISES[crisis])
    assert (days["hmm_regime"] == "Crisis").mean() >= 0.9, days["hmm_regime"].value_counts()


def test_the_crash_is_recognised_online(labelled: pd.DataFrame) -> None:
    """Filtered probabilities use no later day: October-November 2008 is Crisis online."""
    days = _days(labelled, "2008-10-01", "2008-11-30")
    assert (days["p_filtered_crisis"] > 0.5).mean() >= 0.9
    assert days["p_filtered_crisis"].median() > 0.9


def test_the_calmest_year_is_normal(labelled: pd.DataFrame) -> None:
    days = _days(labelled, "2017-01-01", "2017-12-31")
    assert (days["hmm_regime"] == "Normal").mean() >= 0.9
    assert (days["hmm_regime"] == "Crisis").sum() == 0
