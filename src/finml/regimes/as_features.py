"""Regimes as trade features, point in time: each trade gets the regime model's **filtered**
probabilities (a forward pass, no look-ahead) of the last trading day of its symbol that
closed before the trade's own New-York trading day.

A trade never sees its own day's regime (that day's posterior uses the day's whole range),
so the join leaks nothing intraday. The filtered probabilities of past days do come from
the latest regime fit, whose parameters saw every day up to the fit: the same caveat as any
refitted model's backfilled features. Trades before a symbol's first regime day get NaN.
"""

from __future__ import annotations

import pandas as pd

EXCHANGE_TZ = "America/New_York"
REGIMES = ("normal", "stress", "crisis")
SOURCE_COLUMNS = tuple(f"p_filtered_{name}" for name in REGIMES)
FEATURE_COLUMNS = tuple(f"regime_p_{name}" for name in REGIMES)


def previous_day_posteriors(
    trades: pd.DataFrame,
    states: pd.DataFrame,
    columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """``trades`` (symbol, ts, ...) with :data:`FEATURE_COLUMNS` added, in the same row order,
    from ``states`` (``regime_states``: symbol, trade_date, ``p_filtered_*``). ``columns``
    maps other ``regime_states`` columns to the names they get instead (e.g. the previous
    day's ``p_next_*``: the forecast of the trade's own day)."""
    mapping = columns or dict(zip(SOURCE_COLUMNS, FEATURE_COLUMNS, strict=True))
    present = [c for c in mapping if c in states.columns]
    day = pd.to_datetime(trades["ts"], utc=True).dt.tz_convert(EXCHANGE_TZ).dt.tz_localize(None)
    left = pd.DataFrame(
        {"_row": range(len(trades)), "symbol": trades["symbol"].to_numpy(),
         "_day": day.dt.normalize().astype("datetime64[ns]").to_numpy()}
    ).sort_values("_day", kind="stable")  # fmt: skip
    right = states[["symbol", "trade_date", *present]].dropna(subset=present)
    day_of_state = pd.to_datetime(right["trade_date"]).astype("datetime64[ns]")
    right = right.assign(_day=day_of_state).drop(columns="trade_date")
    joined = pd.merge_asof(
        left,
        right.sort_values("_day", kind="stable"),
        on="_day",
        by="symbol",
        allow_exact_matches=False,  # strictly an earlier trading day
        direction="backward",
    ).sort_values("_row")
    out = trades.copy()
    for source, feature in mapping.items():
        # a 2-state fit has no Stress column: NaN, as before the first regime day
        out[feature] = joined[source].to_numpy(float) if source in joined else float("nan")
    return out
