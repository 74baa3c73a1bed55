"""``ab_report``: the inference log joined with labels, a z-test and a row in ``ab_tests``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from finml.errors import DataError
from finml.jobs.serving import ab_report
from finml.runtime.delta import DeltaTables
from finml.serving.inference_log import LogBatch, to_arrow
from finml.serving.records import Records

NOW = datetime(2026, 11, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def rows(variant: str, version: int, positives_caught: int, offset: int) -> list[LogBatch]:
    """200 records: trades 0-99 are anomalies, ``positives_caught`` of them flagged; trades
    100-199 are normal, 10 of them flagged."""
    flagged = [int(i < positives_caught if i < 100 else i < 110) for i in range(200)]
    records = Records.of(
        [(1.0,)] * 200, ["AAPL"] * 200, None, [f"t{offset + i}" for i in range(200)]
    )
    scores = [0.9 if f else 0.1 for f in flagged]
    return [
        LogBatch(f"r{offset}", NOW, "m", version, variant, ("x",), records, scores, flagged, 1.0)
    ]


def labels(offsets: list[int]) -> pa.Table:
    ids = [f"t{o + i}" for o in offsets for i in range(200)]
    return pa.table({"trade_id": ids, "label": [int(int(t[1:]) % 1000 < 100) for t in ids]})


def test_challenger_with_better_recall_is_promoted(scoring_config, spark) -> None:
    tables = DeltaTables.from_config(scoring_config, spark)
    log = rows("champion", 1, 50, 0) + rows("challenger", 2, 90, 1000)
    tables.table("inference_log").append(to_arrow(log))
    later = rows("champion", 1, 50, 0)[0]  # the same records scored again: counted once
    later = LogBatch(**{**{f: getattr(later, f) for f in later.__slots__}, "logged_at": LATER})
    tables.table("inference_log").append(to_arrow([later]))
    tables.table("test_set").overwrite(labels([0, 1000]))
    result, row = ab_report(scoring_config, spark, tables)
    assert (result.champion.tp, result.champion.fn, result.champion.fp) == (50, 50, 10)
    assert (result.challenger.tp, result.challenger.fn) == (90, 10)
    assert result.decision == "promote_challenger" and result.recall_p < 1e-6
    written = tables.table("ab_tests").to_arrow().to_pylist()
    assert len(written) == 1 and written[0]["test_id"] == row["test_id"]
    assert written[0]["challenger_recall"] == pytest.approx(0.9)
    assert written[0]["champion_versions"] == "1" and written[0]["inference_log_version"] == 1


def test_no_challenger_rows_is_a_clear_error(scoring_config, spark) -> None:
    tables = DeltaTables.from_config(scoring_config, spark)
    tables.table("inference_log").append(to_arrow(rows("champion", 1, 50, 0)))
    tables.table("test_set").overwrite(labels([0]))
    with pytest.raises(DataError, match="challenger or shadow"):
        ab_report(scoring_config, spark, tables)
