-- Medallion tables (bronze, silver, gold) of the ingestion job's `medallion` task.
-- GENERATED from finml.pipelines.contracts by `finml bundle ddl --write`: do not
-- edit by hand (tests/unit/bundle/test_ddl.py fails when the two differ).
-- Run after 00_catalog.sql with the same ${catalog} / ${schema}. The runner creates the
-- tables on first write too; the declarative pipeline publishes its own copies in
-- ${schema}_dlt (resources/medallion_pipeline.yml).

-- bronze_trades: written by ingestion
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.bronze_trades (
  s STRING COMMENT 'symbol as sent',
  p STRING COMMENT 'price as sent',
  v STRING COMMENT 'volume as sent',
  t STRING COMMENT 'epoch milliseconds as sent',
  c ARRAY<STRING> COMMENT 'trade conditions',
  _raw STRING COMMENT 'the record as it arrived',
  _rescued_data STRING COMMENT 'fields outside the schema, as JSON',
  _parse_error STRING COMMENT 'why the record could not be read (NULL when it could)',
  _source_file STRING COMMENT 'landing file the record came from',
  _ingested_at TIMESTAMP COMMENT 'when the record entered bronze',
  _batch_id BIGINT COMMENT 'ingestion micro-batch (NULL when written by the declarative pipeline)'
) USING DELTA COMMENT 'Raw trades: one row per landing record, fields as sent, nothing dropped';

-- bronze_bars: written by ingestion
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.bronze_bars (
  symbol STRING,
  timestamp STRING,
  open STRING,
  high STRING,
  low STRING,
  close STRING,
  volume STRING,
  _raw STRING,
  _parse_error STRING,
  _source_file STRING COMMENT 'landing file the record came from',
  _ingested_at TIMESTAMP COMMENT 'when the record entered bronze',
  _batch_id BIGINT COMMENT 'ingestion micro-batch (NULL when written by the declarative pipeline)'
) USING DELTA COMMENT 'Raw vendor bars: one row per CSV line, fields as text, symbol from the file name';

-- silver_trades: written by stage silver_trades
-- keys: trade_id
-- rule parsed_record (quarantine): _parse_error IS NULL
-- rule symbol_present (quarantine): symbol IS NOT NULL AND symbol <> ''
-- rule symbol_format (quarantine): symbol IS NULL OR symbol = '' OR symbol RLIKE {symbol_pattern}
-- rule price_numeric (quarantine): _parse_error IS NOT NULL OR price IS NOT NULL
-- rule price_finite (quarantine): price IS NULL OR (NOT isnan(price) AND abs(price) < double('Infinity'))
-- rule price_positive (quarantine): price IS NULL OR isnan(price) OR price > 0
-- rule price_below_max (quarantine): NOT coalesce((price > 0 AND price < double('Infinity')), false) OR price <= {max_price}
-- rule price_within_band (quarantine): NOT coalesce((price > 0 AND price < double('Infinity')), false) OR _ref_price IS NULL OR price BETWEEN _ref_price / {price_band} AND _ref_price * {price_band}
-- rule volume_numeric (quarantine): _parse_error IS NOT NULL OR volume IS NOT NULL
-- rule volume_in_range (quarantine): volume IS NULL OR (NOT isnan(volume) AND volume >= 0 AND volume <= {max_volume})
-- rule timestamp_valid (quarantine): _parse_error IS NOT NULL OR t_ms IS NOT NULL
-- rule timestamp_in_milliseconds (quarantine): t_ms IS NULL OR t_ms BETWEEN 100000000000 AND 99999999999999
-- rule timestamp_after_floor (quarantine): ts IS NULL OR ts >= {earliest_date}
-- rule timestamp_not_future (quarantine): ts IS NULL OR ts <= _ingested_at + INTERVAL {future_skew_minutes} MINUTES
-- rule conditions_present (warn): _parse_error IS NOT NULL OR conditions IS NOT NULL
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.silver_trades (
  trade_id STRING COMMENT 'SHA-256 of symbol, time, price, volume, sorted conditions',
  symbol STRING,
  price DOUBLE,
  volume DOUBLE,
  ts TIMESTAMP COMMENT 'trade time (UTC)',
  trade_date DATE COMMENT 'New York date',
  session STRING COMMENT 'pre, regular, post or closed',
  conditions ARRAY<STRING>,
  _rescued_data STRING,
  _source_file STRING COMMENT 'landing file the record came from',
  _ingested_at TIMESTAMP COMMENT 'when the record entered bronze',
  _batch_id BIGINT COMMENT 'ingestion micro-batch (NULL when written by the declarative pipeline)'
) USING DELTA COMMENT 'Typed, checked, deduplicated trades';

-- silver_quarantine: written by stage silver_trades
-- rows failing a quarantine rule of silver_trades
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.silver_quarantine (
  trade_id STRING COMMENT 'SHA-256 of symbol, time, price, volume, sorted conditions',
  symbol STRING,
  price DOUBLE,
  volume DOUBLE,
  ts TIMESTAMP COMMENT 'trade time (UTC)',
  trade_date DATE COMMENT 'New York date',
  session STRING COMMENT 'pre, regular, post or closed',
  conditions ARRAY<STRING>,
  t_ms BIGINT COMMENT 't as a whole number',
  s STRING,
  p STRING,
  v STRING,
  t STRING,
  _raw STRING,
  _rescued_data STRING,
  _parse_error STRING,
  _source_file STRING COMMENT 'landing file the record came from',
  _batch_id BIGINT COMMENT 'ingestion micro-batch (NULL when written by the declarative pipeline)',
  _ingested_at TIMESTAMP COMMENT 'when the record entered bronze',
  _ref_price DOUBLE COMMENT 'the price the band rule compared with',
  _failed_rules ARRAY<STRING> COMMENT 'names of the rules the row failed',
  _bronze_version BIGINT COMMENT 'last bronze version of the runner batch (NULL in the pipeline)'
) USING DELTA COMMENT 'Trades failing a quarantine rule of silver_trades, with the rules they failed';

-- silver_bars: written by stage silver_bars
-- keys: symbol, interval, bar_start
-- rule parsed_record (quarantine): _parse_error IS NULL
-- rule symbol_present (quarantine): symbol IS NOT NULL AND symbol <> ''
-- rule symbol_format (quarantine): symbol IS NULL OR symbol = '' OR symbol RLIKE {symbol_pattern}
-- rule interval_known (quarantine): interval IS NOT NULL
-- rule bar_time_valid (quarantine): _parse_error IS NOT NULL OR bar_start IS NOT NULL
-- rule bar_after_floor (quarantine): bar_date IS NULL OR bar_date >= {earliest_date}
-- rule bar_not_future (quarantine): bar_start IS NULL OR bar_start <= _ingested_at + INTERVAL {future_skew_minutes} MINUTES
-- rule prices_numeric (quarantine): _parse_error IS NOT NULL OR (open IS NOT NULL AND high IS NOT NULL AND low IS NOT NULL AND close IS NOT NULL)
-- rule prices_positive (quarantine): coalesce(least(open, high, low, close) > 0, true) AND coalesce(greatest(open, high, low, close) <= {max_price}, true)
-- rule high_low_consistent (quarantine): open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL OR (high >= greatest(open, close) AND low <= least(open, close))
-- rule volume_in_range (quarantine): _parse_error IS NOT NULL OR (volume IS NOT NULL AND NOT isnan(volume) AND volume >= 0 AND volume <= {max_volume})
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.silver_bars (
  symbol STRING,
  interval STRING COMMENT '1d or the intraday interval',
  bar_start TIMESTAMP COMMENT 'bar start (UTC)',
  bar_date DATE COMMENT 'New York date',
  open DOUBLE,
  high DOUBLE,
  low DOUBLE,
  close DOUBLE,
  volume DOUBLE,
  _source_file STRING COMMENT 'landing file the record came from',
  _batch_id BIGINT COMMENT 'ingestion micro-batch (NULL when written by the declarative pipeline)',
  _ingested_at TIMESTAMP COMMENT 'when the record entered bronze'
) USING DELTA COMMENT 'Typed vendor bars, one per symbol, interval and start; the latest fetch wins';

-- silver_bars_quarantine: written by stage silver_bars
-- rows failing a quarantine rule of silver_bars
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.silver_bars_quarantine (
  symbol STRING,
  interval STRING COMMENT '1d or the intraday interval',
  bar_start TIMESTAMP COMMENT 'bar start (UTC)',
  bar_date DATE COMMENT 'New York date',
  open DOUBLE,
  high DOUBLE,
  low DOUBLE,
  close DOUBLE,
  volume DOUBLE,
  timestamp STRING COMMENT 'the CSV timestamp as sent',
  _raw STRING,
  _parse_error STRING,
  _source_file STRING COMMENT 'landing file the record came from',
  _batch_id BIGINT COMMENT 'ingestion micro-batch (NULL when written by the declarative pipeline)',
  _ingested_at TIMESTAMP COMMENT 'when the record entered bronze',
  _failed_rules ARRAY<STRING> COMMENT 'names of the rules the row failed',
  _bronze_version BIGINT COMMENT 'last bronze version of the runner batch (NULL in the pipeline)'
) USING DELTA COMMENT 'Vendor bars failing a quarantine rule of silver_bars, with the rules they failed';

-- gold_bars_1m: written by stage gold_bars
-- keys: symbol, window_start
-- rule ohlc_consistent (fail): low <= least(open, close) AND high >= greatest(open, close) AND volume >= 0
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.gold_bars_1m (
  symbol STRING,
  window_start TIMESTAMP,
  window_end TIMESTAMP,
  trade_date DATE,
  session STRING COMMENT 'session of the first trade of the bar',
  open DOUBLE,
  high DOUBLE,
  low DOUBLE,
  close DOUBLE,
  volume DOUBLE,
  vwap DOUBLE COMMENT 'NULL when volume is 0 (or for vendor bars)',
  trade_count BIGINT,
  realized_vol DOUBLE COMMENT 'square root of the summed squared log returns',
  first_ts TIMESTAMP,
  last_ts TIMESTAMP
) USING DELTA COMMENT '1-minute OHLCV bars per symbol, from silver trades';

-- gold_bars_daily: written by stages silver_bars (vendor) and gold_bars (trades)
-- keys: symbol, trade_date
-- rule ohlc_consistent (fail): low <= least(open, close) AND high >= greatest(open, close) AND volume >= 0
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.gold_bars_daily (
  symbol STRING,
  trade_date DATE,
  open DOUBLE,
  high DOUBLE,
  low DOUBLE,
  close DOUBLE,
  volume DOUBLE,
  vwap DOUBLE COMMENT 'NULL when volume is 0 (or for vendor bars)',
  trade_count BIGINT,
  realized_vol DOUBLE COMMENT 'square root of the summed squared log returns',
  regular_open DOUBLE COMMENT 'first price of the regular session',
  regular_close DOUBLE COMMENT 'last price of the regular session',
  first_ts TIMESTAMP,
  last_ts TIMESTAMP,
  source STRING COMMENT 'trades, or vendor for a day without trades'
) USING DELTA COMMENT 'Daily OHLCV bars per symbol: rolled up from 1-minute bars, else from the vendor';
