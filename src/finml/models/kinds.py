"""Anomaly quality per injected kind: which kinds each tournament candidate finds.

The simulator labels every anomaly it injects with its kind (``sim_truth_trades.anomaly_type``:
price spike, volume burst, fat finger, stale print, trade burst). The holdout rows are
matched to those kinds on the print's identity, as the labels are (:mod:`finml.features.labels`),
and every candidate is scored per kind at its own operating threshold:

* ``recall`` -- the share of that kind's anomalies the candidate flags;
* ``precision`` -- of the flagged rows that are normal or of that kind, the share of that
  kind (``TP_k / (TP_k + FP)``: the precision a user would see if only that kind occurred);
* ``pr_auc`` -- average precision on that kind's anomalies against the normal rows (other
  kinds left out), threshold-free.

A positive holdout row without a truth kind (a label from elsewhere) counts as ``unknown``.
Without simulator truth there are no kinds, and nothing is reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from finml.models.data import LABEL
from finml.models.metrics import pr_auc

if TYPE_CHECKING:
    from finml.models.data import Split
    from finml.models.tournament import TournamentResult
    from finml.runtime.delta import DeltaTables

KIND_TABLE = "anomaly_kind_quality"
UNKNOWN = "unknown"
TRUTH, SILVER = "sim_truth_trades", "silver_trades"
COLUMNS = ("candidate", "anomaly_type", "positives", "detected", "recall", "precision", "pr_auc")


def holdout_kinds(tables: DeltaTables, test: Split) -> np.ndarray | None:
    """The anomaly kind of every positive row of ``test`` (None on negative rows), in row
    order; None when the simulator's truth or silver trades are missing."""
    truth, silver = tables.table(TRUTH), tables.table(SILVER)
    if not (truth.exists() and silver.exists()):
        return None
    positives = test.frame.loc[test.frame[LABEL] == 1, ["trade_id"]]
    kinds = np.full(len(test.frame), None, dtype=object)
    if positives.empty:
        return kinds
    identity = ["symbol", "ts_ms", "price", "volume"]
    trades = silver.to_arrow().select(["trade_id", "symbol", "ts", "price", "volume"])
    wanted = pa.array(positives["trade_id"].unique(), trades.schema.field("trade_id").type)
    trades = trades.filter(pc.is_in(trades["trade_id"], value_set=wanted)).to_pandas()
    trades["ts_ms"] = _epoch_ms(trades.pop("ts"))
    prints = truth.to_arrow().select([*identity, "anomaly_type"]).to_pandas()
    # one kind per print identity (a replayed print keeps the anomalous copy's kind)
    prints = prints.dropna(subset=["anomaly_type"]).drop_duplicates(identity)
    matched = trades.merge(prints, on=identity, how="left").set_index("trade_id")["anomaly_type"]
    rows = test.frame[LABEL].to_numpy() == 1
    found = test.frame.loc[rows, "trade_id"].map(matched)
    kinds[rows] = found.where(found.notna(), UNKNOWN).to_numpy()
    return kinds


def kind_quality(result: TournamentResult, y: np.ndarray, kinds: np.ndarray) -> pd.DataFrame:
    """One row per (candidate, kind present in the holdout): positives, detected, recall,
    precision and PR-AUC (see the module doc); candidates in tournament rank order."""
    normal = y == 0
    present = sorted({str(k) for k in kinds[y == 1]})
    records = []
    for candidate in result.results:
        scores = candidate.holdout_scores
        if scores is None:
            continue
        flagged = scores >= candidate.threshold
        false_positives = int((flagged & normal).sum())
        for kind in present:
            mine = kinds == kind
            detected = int((flagged & mine).sum())
            shown = detected + false_positives
            subset = mine | normal
            records.append(
                {
                    "candidate": candidate.name,
                    "anomaly_type": kind,
                    "positives": int(mine.sum()),
                    "detected": detected,
                    "recall": detected / int(mine.sum()),
                    "precision": detected / shown if shown else float("nan"),
                    "pr_auc": pr_auc(mine[subset].astype(np.int64), scores[subset]),
                }
            )
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def _epoch_ms(ts: pd.Series) -> np.ndarray:
    """Epoch milliseconds of a timestamp column (any unit, naive = UTC)."""
    values = pd.to_datetime(ts, utc=True)
    return (values - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
