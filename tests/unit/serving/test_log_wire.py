"""The wire to the writer process: a frame decodes to the rows its batch would have given,
whatever the stream's chunking; and rows of many batches equal the per-record reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from finml.serving import log_wire
from finml.serving.inference_log import LogBatch, inputs_json, to_arrow
from finml.serving.records import Records

NAMES = (("return_z", "volume_z", "spread_bps"), ("b", "a"))
finite = st.floats(allow_nan=False, allow_infinity=False)
times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1))
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=-5))])
event_times = st.one_of(st.none(), st.builds(lambda t, z: t.replace(tzinfo=z), times, zones))
keys = st.one_of(st.none(), st.text(min_size=1, max_size=12))


@st.composite
def batches(draw: st.DrawFn) -> LogBatch:
    names = draw(st.sampled_from(NAMES))
    n = draw(st.integers(min_value=1, max_value=40))  # >= 16 takes the vectorised payloads
    cells = draw(st.lists(finite, min_size=n * len(names), max_size=n * len(names)))
    records = Records(
        np.array(cells, dtype=np.float64).reshape(n, len(names)),
        draw(st.lists(keys, min_size=n, max_size=n)),
        draw(st.lists(event_times, min_size=n, max_size=n)),
        draw(st.lists(keys, min_size=n, max_size=n)),
    )
    return LogBatch(
        draw(st.text(min_size=1, max_size=40)),
        draw(times).replace(tzinfo=UTC),
        "cat.sch.anomaly_model",
        draw(st.integers(min_value=1, max_value=10**6)),
        draw(st.sampled_from(["champion", "challenger", "shadow"])),
        names,
        records,
        draw(st.lists(finite, min_size=n, max_size=n)),
        draw(st.lists(st.integers(min_value=0, max_value=1), min_size=n, max_size=n)),
        draw(finite),
    )


@settings(max_examples=150, deadline=None)
@given(batches())
def test_a_decoded_frame_gives_the_rows_of_its_batch(batch: LogBatch) -> None:
    assert to_arrow([log_wire.decode(log_wire.encode(batch))]).equals(to_arrow([batch]))


@settings(max_examples=60, deadline=None)
@given(st.lists(batches(), min_size=1, max_size=6), st.data())
def test_frames_survive_any_chunking(sent: list[LogBatch], data: st.DataObject) -> None:
    payloads = [log_wire.encode(b) for b in sent]
    stream = b"".join(log_wire.frame(i + 1, p) + p for i, p in enumerate(payloads))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader, got = log_wire.FrameReader(), []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += list(reader.feed(stream[start:end]))
    assert got == [(i + 1, p) for i, p in enumerate(payloads)] and reader.partial == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(batches(), min_size=1, max_size=8))
def test_rows_of_many_batches_equal_the_per_record_reference(many: list[LogBatch]) -> None:
    """One vectorised payload call over all batches writes what ``inputs_json`` writes
    record by record, in batch order, with every other column alongside."""
    got = to_arrow(many)
    assert got.column("inputs").to_pylist() == [
        inputs_json(b.names, row) for b in many for row in b.records.values.tolist()
    ]
    assert got.equals(pa.concat_tables([to_arrow([b]) for b in many]))
    assert got.column("request_id").to_pylist() == [
        b.request_id for b in many for _ in range(len(b))
    ]


def test_times_cross_as_utc_instants() -> None:
    naive, eastern = (
        datetime(2026, 1, 2, 15, 0),
        datetime(2026, 1, 2, 10, 0, tzinfo=timezone(timedelta(hours=-5))),
    )
    records = Records.of([(1.0, 2.0), (3.0, 4.0), (5.0, 6.0)], ts=[naive, eastern, None])
    batch = LogBatch(
        "r",
        datetime(2026, 1, 2, tzinfo=UTC),
        "m",
        1,
        "champion",
        ("b", "a"),
        records,
        [0.1] * 3,
        [0] * 3,
        1.0,
    )
    back = log_wire.decode(log_wire.encode(batch))
    assert back.records.ts == [datetime(2026, 1, 2, 15, tzinfo=UTC)] * 2 + [None]
    assert back.logged_at == batch.logged_at and back.names == ("b", "a")
