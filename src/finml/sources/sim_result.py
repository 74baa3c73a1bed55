"""What the simulator produced: the trades, the ground truth and the daily bars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SimulationResult:
    """Trades (model inputs) and the ground truth (never model inputs)."""

    trades: pd.DataFrame
    truth_trades: pd.DataFrame
    truth_regimes: pd.DataFrame
    daily_bars: pd.DataFrame
    trading_dates: list[date]
    regime_path: np.ndarray  # regime id per trading day
    day_index: np.ndarray  # trading-day index per trade (aligned with ``trades``)
