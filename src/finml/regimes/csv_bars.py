"""A user's OHLCV CSV in Alpha Vantage layout (``timestamp,open,high,low,close,volume``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from finml.errors import DataError

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


def read_ohlcv_csv(path: str | Path, symbol: str | None = None) -> pd.DataFrame:
    """Bars with symbol, ts, trade_date, open, high, low, close, volume, oldest first.

    ``symbol`` defaults to a ``symbol`` column of the file, else the file name's stem
    upper-cased. Dates or date-times are accepted (Alpha Vantage lists newest first).

    Raises:
        DataError: the file is missing, lacks a column, or has unparsable values; the
            message names the file and the column.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"input CSV {file}: expected an existing file, found none")
    frame = pd.read_csv(file)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"input CSV {file}: expected columns {list(COLUMNS)}, missing {missing} "
            f"(got {list(frame.columns)})"
        )
    ts = pd.to_datetime(frame["timestamp"], errors="coerce")
    if ts.isna().any():
        bad = frame.loc[ts.isna(), "timestamp"].iloc[0]
        raise DataError(f"input CSV {file}: column 'timestamp': expected dates, got {bad!r}")
    out = pd.DataFrame({"ts": ts})
    for column in COLUMNS[1:]:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any():
            bad = frame.loc[values.isna(), column].iloc[0]
            raise DataError(f"input CSV {file}: column {column!r}: expected numbers, got {bad!r}")
        out[column] = values.astype(float)
    name = symbol or (str(frame["symbol"].iloc[0]) if "symbol" in frame.columns else file.stem)
    out.insert(0, "symbol", name.upper())
    out["trade_date"] = out["ts"].dt.date
    return out.sort_values("ts", kind="stable").reset_index(drop=True)
