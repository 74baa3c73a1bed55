"""Bronze/silver trade transforms and expectations on small hand-made inputs (chispa)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from finml.errors import ExpectationFailed
from finml.pipelines.contracts import expectations_for
from finml.pipelines.expectations import Expectation, check, observe
from finml.pipelines.ingest import bronze_trades_from_parquet_files
from finml.pipelines.settings import QualitySettings
from finml.pipelines.trades import (
    SILVER_TRADES,
    bronze_trades_from_lines,
    deduplicate,
    silver_trades,
    typed_trades,
    with_ingest_metadata,
)

T = 1704724200123  # 2024-01-08 14:30:00.123 UTC = 09:30:00.123 New York (regular session)


def msg(*trades: dict) -> str:
    return json.dumps({"type": "trade", "data": list(trades)})


def lines_df(spark, lines: list[str]):
    return spark.createDataFrame(
        [(line, "file:/l/a.jsonl") for line in lines], "value string, _source_file string"
    )


def test_bronze_explodes_messages_and_keeps_every_unreadable_line(spark) -> None:
    lines = [
        msg(
            {"s": "AAPL", "p": 187.12, "v": 100, "t": T, "c": ["1"]},
            {"s": "MSFT", "p": "abc", "v": 5, "t": T + 1, "x": 7},
        ),
        '{"type":"ping"}',
        '{"type":"trade","data":[{"s":"AAPL","p":187.1',
        '{"type":"trade","data":"oops"}',
        '{"type":"news","data":[]}',
    ]
    bronze = bronze_trades_from_lines(lines_df(spark, lines))
    got = [(r.s, r.p, r.v, r.t, r._rescued_data, r._parse_error) for r in bronze.collect()]
    assert got == [
        ("AAPL", "187.12", "100", str(T), None, None),
        ("MSFT", "abc", "5", str(T + 1), '{"x":"7"}', None),
        (None, None, None, None, None, "malformed_json"),
        (None, None, None, None, None, "data_not_an_array"),
        (None, None, None, None, None, "unexpected_type:news"),
    ]
    raws = [r._raw for r in bronze.collect()]
    assert raws[2] == lines[2] and json.loads(raws[0])["p"] == 187.12


def test_bronze_regular_lines_and_the_general_path_give_the_same_fields(spark) -> None:
    """Lines the one typed parse accounts for keep their element text verbatim; every line
    it does not (braces or colons in strings, nulls, nested values, NaN tokens, unknown keys)
    takes the string-map path, and both give the fields as their JSON text."""
    first = '{"s":"AAPL","p":1.5,"v":10,"t":' + str(T) + ',"c":["1"]}'
    second = '{"t": ' + str(T) + ', "s": "MSFT", "c": [], "v": 2, "p": 3}'
    lines = [
        '{"type":"trade","data":[' + first + ", " + second + "]}",
        msg({"s": "A{B", "p": 1, "v": 1, "t": T, "c": []}),
        msg({"s": "AAPL", "p": 1, "v": 1, "t": T, "c": ["a:b"]}),
        msg({"s": "AAPL", "p": 1, "v": 1, "t": T, "c": None}),
        msg({"s": "AAPL", "p": {"x": 1}, "v": 1, "t": T, "c": []}),
        msg({"s": "AAPL", "p": float("nan"), "v": 1, "t": T, "c": []}),
        msg({"s": "AAPL", "p": 1, "v": 1, "t": T, "c": [], "venue": "X"}),
    ]
    bronze = bronze_trades_from_lines(lines_df(spark, lines)).collect()
    assert [r._raw for r in bronze[:2]] == [first, second]  # cut out of the line verbatim
    got = [(r.s, r.p, r.v, r.t, r.c, r._rescued_data) for r in bronze]
    t = str(T)
    assert got == [
        ("AAPL", "1.5", "10", t, ["1"], None),
        ("MSFT", "3", "2", t, [], None),
        ("A{B", "1", "1", t, [], None),
        ("AAPL", "1", "1", t, ["a:b"], None),
        ("AAPL", "1", "1", t, None, None),
        ("AAPL", '{"x":1}', "1", t, [], None),
        ("AAPL", "NaN", "1", t, [], None),
        ("AAPL", "1", "1", t, [], '{"venue":"X"}'),
    ]
    assert all(json.loads(r._raw)["s"] == r.s for r in bronze)
    assert all(r._parse_error is None for r in bronze)


def test_bronze_lines_that_counting_alone_would_misjudge(spark) -> None:
    """A null element hidden by an empty nested object, and an unknown key in one element
    offset by a missing key in another: brace and colon totals match, yet neither line is
    regular -- the flat-object count and the non-null field count tell."""
    t = str(T)
    lines = [
        '{"type":"trade","data":[{"s":"A","p":{},"v":1,"t":' + t + ',"c":[]}, null]}',
        '{"type":"trade","data":[{"s":"A","p":1,"v":1,"t":' + t + "}, "
        '{"s":"B","p":2,"v":1,"t":' + t + ',"c":[],"x":1}]}',
    ]
    bronze = bronze_trades_from_lines(lines_df(spark, lines)).collect()
    got = [(r.s, r.p, r.c, r._rescued_data) for r in bronze]
    assert got == [
        ("A", "{}", [], None),
        (None, None, None, None),  # the null element: kept, to fail silver's rules
        ("A", "1", None, None),
        ("B", "2", [], '{"x":"1"}'),  # the unknown key is rescued, not lost
    ]
    assert bronze[1]._raw == lines[0]


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_bronze_from_parquet_files_types_nothing_and_quarantines_unreadable_files(
    spark, tmp_path
) -> None:
    """Landing Parquet files are decoded one by one: a truncated file or a column of an
    unusable type becomes one unreadable_file row; a text ``p`` is kept as text (silver
    types it); the readable files' rows have the same shape as JSON lines' rows."""
    good = pa.table({"s": ["AAPL"], "p": [187.5], "v": [10.0], "t": [T], "c": [["1"]], "x": [7]})
    texty = pa.table({"s": ["MSFT"], "p": ["12.5"], "v": [3], "t": [T]})
    (tmp_path / "good.parquet").write_bytes(parquet_bytes(good))
    (tmp_path / "text.parquet").write_bytes(parquet_bytes(texty))
    (tmp_path / "cut.parquet").write_bytes(parquet_bytes(good)[:40])
    (tmp_path / "blob.parquet").write_bytes(
        parquet_bytes(pa.table({"s": pa.array([b"\x00"], pa.binary())}))
    )
    files = spark.read.format("binaryFile").load(str(tmp_path))
    bronze = bronze_trades_from_parquet_files(files)
    from_lines = bronze_trades_from_lines(lines_df(spark, [msg({"s": "A", "p": 1, "v": 1})]))
    assert bronze.schema == from_lines.schema
    rows = {r._source_file.rsplit("/", 1)[-1]: r for r in bronze.collect()}
    assert set(rows) == {"good.parquet", "text.parquet", "cut.parquet", "blob.parquet"}
    row = rows["good.parquet"]
    assert (row.s, row.p, row.v, row.t, row.c, row._parse_error) == (
        "AAPL",
        "187.5",
        "10",
        str(T),
        ["1"],
        None,
    )
    assert json.loads(row._raw) == {"s": "AAPL", "p": 187.5, "v": 10.0, "t": T, "c": ["1"]}
    assert json.loads(row._rescued_data) == {"x": 7}
    assert (rows["text.parquet"].p, rows["text.parquet"]._parse_error) == ("12.5", None)
    for name in ("cut.parquet", "blob.parquet"):
        assert rows[name]._parse_error.startswith("unreadable_file: "), name
        assert rows[name].s is None
    assert "expected a number or text, got binary" in rows["blob.parquet"]._parse_error


def test_a_line_of_invalid_utf8_is_kept_as_an_invalid_utf8_record(spark) -> None:
    """Bytes that are not UTF-8 never reach bronze's strings: the line is kept (each bad
    sequence replaced) with _parse_error invalid_utf8, and the good lines parse normally."""
    good = msg({"s": "AAPL", "p": 1.5, "v": 2, "t": T, "c": ["1"]})
    lines = spark.createDataFrame(
        [(bytearray(b'{"type":"trade","data":[{"s":"\xff"}]}'),), (bytearray(good.encode()),)],
        "value binary",
    ).select(F.col("value").cast("string").alias("value"), F.lit("f.jsonl").alias("_source_file"))
    rows = bronze_trades_from_lines(lines).collect()
    bad = [r for r in rows if r._parse_error]
    assert [r._parse_error for r in bad] == ["invalid_utf8"]
    assert bad[0]._raw == '{"type":"trade","data":[{"s":"\ufffd"}]}'
    assert [(r.s, r.p) for r in rows if not r._parse_error] == [("AAPL", "1.5")]


def silver_of(spark, trades: list[dict]):
    bronze = bronze_trades_from_lines(lines_df(spark, [msg(*trades)]))
    return silver_trades(bronze.transform(with_ingest_metadata(3)))


def test_silver_types_sessions_and_trade_identity(spark) -> None:
    pre = T - 3 * 3600_000  # 06:30 New York
    post = T + 7 * 3600_000  # 16:30
    night = T + 12 * 3600_000  # 21:30
    summer = 1720013400000  # 2024-07-03 13:30 UTC = 09:30 EDT
    silver = silver_of(
        spark,
        [
            {"s": "AAPL", "p": 187.12, "v": 100, "t": T, "c": ["12", "1"]},
            {"s": "AAPL", "p": 1, "v": 1, "t": pre, "c": []},
            {"s": "AAPL", "p": 1, "v": 1, "t": post},
            {"s": "AAPL", "p": 1, "v": 1, "t": night},
            {"s": "AAPL", "p": 1, "v": 1, "t": summer},
        ],
    )
    rows = silver.collect()
    assert rows[0].symbol == "AAPL" and rows[0].price == 187.12 and rows[0].volume == 100.0
    assert rows[0].ts == datetime(2024, 1, 8, 14, 30, 0, 123000)  # UTC wall time in UTC session
    assert rows[0].trade_date == date(2024, 1, 8)
    assert [r.session for r in rows] == ["regular", "pre", "post", "closed", "regular"]
    assert rows[0]._batch_id == 3
    same = silver_of(spark, [{"s": "AAPL", "p": 187.12, "v": 100.0, "t": T, "c": ["1", "12"]}])
    assert same.first().trade_id == rows[0].trade_id  # normalised identity
    assert len({r.trade_id for r in rows}) == 5
    lower = silver_of(spark, [{"s": "brk.b", "p": 1, "v": 1, "t": T}]).first()
    assert lower.symbol == "brk.b"  # stored as sent: never trimmed or upper-cased


def test_each_bad_record_kind_fails_its_named_rule(spark) -> None:
    """Each kind of bad trade is quarantined by the rule that names what is wrong -- and only
    that rule -- while plausible oddities (zero volume, a 10x fat finger) stay valid."""
    future = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)
    before_floor = int(datetime(1985, 6, 3, tzinfo=UTC).timestamp() * 1000)
    base = {"s": "AAPL", "p": 10.5, "v": 1, "t": T, "c": ["1"]}
    cases = {
        "ok": ({}, []),
        "zero_volume": ({"v": 0}, []),
        "fat_finger": ({"p": 105.0}, []),  # no reference here; the band is tested below
        "no_conditions": ({"c": None}, []),  # warn: counted, row kept
        "wrong_type": ({"p": "abc"}, ["price_numeric"]),
        "negative": ({"p": -1.0}, ["price_positive"]),
        "zero": ({"p": 0}, ["price_positive"]),
        "nan": ({"p": float("nan")}, ["price_finite"]),
        "inf": ({"p": float("inf")}, ["price_finite"]),
        "huge_price": ({"p": 1e300}, ["price_below_max"]),
        "missing_symbol": ({"s": None}, ["symbol_present"]),
        "empty_symbol": ({"s": ""}, ["symbol_present"]),
        "object_symbol": ({"s": {"a": 1}}, ["symbol_format"]),
        "padded_symbol": ({"s": " AAPL"}, ["symbol_format"]),
        "future": ({"t": future}, ["timestamp_not_future"]),
        "seconds": ({"t": T // 1000}, ["timestamp_in_milliseconds"]),
        "nanoseconds": ({"t": T * 1_000_000}, ["timestamp_in_milliseconds"]),
        "beyond_long": ({"t": 10**20}, ["timestamp_valid"]),
        "before_floor": ({"t": before_floor}, ["timestamp_after_floor"]),
        "negative_volume": ({"v": -5}, ["volume_in_range"]),
        "huge_volume": ({"v": 1e12}, ["volume_in_range"]),
    }
    trades = []
    for name, (change, _) in cases.items():
        trade = {**base, **change, "case": name}
        trades.append({k: v for k, v in trade.items() if v is not None})
    silver = silver_of(spark, trades)
    checked = check(silver, expectations_for(SILVER_TRADES), SILVER_TRADES)
    got = {
        json.loads(r._rescued_data)["case"]: sorted(r._failed_rules)
        for r in checked.quarantined.collect()
    }
    assert got == {name: rules for name, (_, rules) in cases.items() if rules}
    assert checked.rows_in == len(cases) and checked.rows_valid == 4
    assert checked.failures["conditions_present"] == 1
    checked.release()


def test_price_band_judges_prices_against_the_symbols_reference(spark) -> None:
    """A price beyond ``price_band`` times the symbol's reference price (either way) is
    quarantined as price_within_band; 10x (a fat finger) and a symbol without a reference
    pass; the band comes from the config."""
    bronze = bronze_trades_from_lines(
        lines_df(
            spark,
            [
                msg(
                    {"s": "AAPL", "p": 100.0, "v": 1, "t": T, "c": []},
                    {"s": "AAPL", "p": 1000.0, "v": 1, "t": T + 1, "c": []},
                    {"s": "AAPL", "p": 3000.0, "v": 1, "t": T + 2, "c": []},
                    {"s": "AAPL", "p": 3.0, "v": 1, "t": T + 3, "c": []},
                    {"s": "NEW", "p": 3000.0, "v": 1, "t": T + 4, "c": []},
                )
            ],
        )
    ).transform(with_ingest_metadata(1))
    reference = spark.createDataFrame([("AAPL", 100.0)], "symbol string, _ref_price double")
    typed = typed_trades(bronze, reference)
    for band, failing in ((25.0, [3.0, 3000.0]), (5.0, [1000.0, 3.0, 3000.0])):
        params = QualitySettings(price_band=band).sql_params()
        checked = check(typed, expectations_for(SILVER_TRADES, params), SILVER_TRADES)
        bad = {(r.symbol, r.price): r._failed_rules for r in checked.quarantined.collect()}
        assert bad == {("AAPL", p): ["price_within_band"] for p in failing}, band
        checked.release()


def test_fail_action_raises_naming_rule_and_count(spark) -> None:
    df = spark.createDataFrame([(1,), (-1,), (-2,)], "x int")
    rules = (Expectation("x_positive", "x > 0", "fail"),)
    with pytest.raises(ExpectationFailed, match=r"table t: .*x_positive \(2 rows\)"):
        check(df, rules, "t")


def test_drop_and_warn_actions(spark) -> None:
    df = spark.createDataFrame([(1,), (-1,), (None,)], "x int")
    rules = (Expectation("x_positive", "x > 0", "drop"), Expectation("x_small", "x < 0", "warn"))
    checked = check(df, rules, "t")
    assert_df_equality(checked.valid, spark.createDataFrame([(1,)], "x int"))
    assert (checked.rows_dropped, checked.rows_quarantined) == (2, 0)
    assert checked.failures == {"x_positive": 2, "x_small": 2}
    checked.release()


@pytest.mark.parametrize(
    ("drop", "kept", "failures"),
    [
        # With a drop rule one observation before the split counts every row.
        (True, ([1, 5], [-1, None]), {"x_positive": 2, "x_small": 2, "x_not_minus_one": 2}),
        # Without, each frame is observed after the split and the two add up.
        (False, ([1, 5], [-1, None]), {"x_positive": 2, "x_small": 2}),
    ],
)
def test_observed_split_counts_what_check_counts_while_writing(spark, drop, kept, failures) -> None:
    df = spark.createDataFrame([(1,), (-1,), (None,), (5,)], "x int")
    rules = (
        Expectation("x_positive", "x > 0"),
        Expectation("x_small", "x < 3", "warn"),
        *((Expectation("x_not_minus_one", "x <> -1", "drop"),) if drop else ()),
    )
    measures = {"nn_x": F.count("x")}
    eager = check(df, rules, "t", measures)
    split = observe(df, rules, "t", measures)
    assert len(split.observations) == (1 if drop else 2)
    valid = [r.x for r in split.valid.collect()]  # each write collects its counts
    quarantined = [r.x for r in split.quarantined.collect()]
    observed = split.result()
    assert (valid, sorted(quarantined, key=str)) == kept
    assert "_failed_rules" not in split.valid.columns
    for got in (observed, split.result(written=False)):
        assert (got.rows_in, got.rows_valid, got.rows_quarantined, got.rows_dropped) == (
            eager.rows_in,
            eager.rows_valid,
            eager.rows_quarantined,
            eager.rows_dropped,
        )
        assert got.failures == eager.failures == failures
        assert got.measures == eager.measures == {"nn_x": 3}
    eager.release()
    with pytest.raises(ValueError, match=r"t: rules .*x_big.* action .fail."):
        observe(df, (Expectation("x_big", "x > 100", "fail"),), "t")


def test_deduplicate_within_batch_and_against_silver(spark) -> None:
    trade = {"s": "AAPL", "p": 1.0, "v": 1, "t": T, "c": []}
    other = {"s": "AAPL", "p": 2.0, "v": 1, "t": T, "c": []}
    known = {"s": "AAPL", "p": 3.0, "v": 1, "t": T, "c": []}
    batch = silver_of(spark, [trade, trade, other, known])
    existing = silver_of(spark, [known]).select("trade_id")
    assert sorted(r.price for r in deduplicate(batch, existing).collect()) == [1.0, 2.0]


def test_bronze_bars_from_alpha_vantage_csv_lines(spark) -> None:
    from finml.pipelines.ingest import bronze_bars_from_lines

    lines = spark.createDataFrame(
        [
            ("timestamp,open,high,low,close,volume", "file:/l/bars/daily_AAPL.csv"),
            ("2024-01-09,185.1,186.2,184.0,185.9,1000", "file:/l/bars/daily_AAPL.csv"),
            ("2024-01-08,oops,1", "file:/l/bars/daily_AAPL.csv"),
            ("2024-01-08,50,51,49,50.5,7", "file:/l/bars/intraday_5min_BRK.B.csv"),
        ],
        "value string, _source_file string",
    )
    got = bronze_bars_from_lines(lines).drop("_source_file", "_raw")
    expected = spark.createDataFrame(
        [
            ("AAPL", "2024-01-09", "185.1", "186.2", "184.0", "185.9", "1000", None),
            ("AAPL", None, None, None, None, None, None, "wrong_field_count"),
            ("BRK.B", "2024-01-08", "50", "51", "49", "50.5", "7", None),
        ],
        "symbol string, timestamp string, open string, high string, low string, close string, "
        "volume string, _parse_error string",
    )
    assert_df_equality(got, expected, ignore_nullable=True)


def test_quality_profile_is_computed_from_the_rows(spark) -> None:
    from finml.pipelines.quality import profile

    df = spark.createDataFrame(
        [("a", 1.0), ("a", None), ("b", 2.0), (None, 3.0)], "k string, x double"
    )
    rows, completeness, uniqueness = profile(df, ("k", "x"), ("k",))
    assert (rows, completeness, uniqueness) == (4, 6 / 8, 2 / 4)
    assert profile(df.limit(0), ("k",), ("k",)) == (0, 1.0, 1.0)
