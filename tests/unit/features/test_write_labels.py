"""``write_labels`` on the delta-rs engine (no Spark): a label that changed is updated, new
trades inserted, unchanged rows left alone -- its change condition must parse in DataFusion
as in Spark SQL."""

from __future__ import annotations

import pyarrow as pa

from finml.config import ProjectConfig
from finml.jobs.features import LABELS, write_labels
from finml.runtime.delta import DeltaTables


def labels(rows: list[tuple[str, int, str]]) -> pa.Table:
    ids, values, sources = zip(*rows, strict=True)
    return pa.table(
        {
            "trade_id": list(ids),
            "label": pa.array(values, pa.int32()),
            "label_source": list(sources),
        }
    )


def test_a_changed_label_is_updated_and_new_trades_inserted(tmp_path) -> None:
    tables = DeltaTables.from_config(ProjectConfig(home=tmp_path / "home"), None)
    assert tables.engine_name == "delta-rs"
    write_labels(tables, labels([("a", 0, "rule"), ("b", 0, "rule")]))
    write_labels(tables, labels([("b", 1, "truth"), ("c", 0, "rule"), ("a", 0, "rule")]))
    table = tables.table(LABELS)
    got = sorted(
        (r["trade_id"], r["label"], r["label_source"]) for r in table.to_arrow().to_pylist()
    )
    assert got == [("a", 0, "rule"), ("b", 1, "truth"), ("c", 0, "rule")]
    merge = table.history(limit=1)[0]
    counts = ("num_target_rows_updated", "num_target_rows_inserted")
    assert [merge.metrics[name] for name in counts] == [1, 1]
