-- Audit and serving tables FinML's jobs append to. Run after 00_catalog.sql with the same
-- ${catalog} / ${schema}. The code creates these tables on first write too, so this DDL is for
-- an operator who creates them (and grants on them) before the first run.
-- tests/unit/bundle/test_ddl.py keeps each column list equal to the schema in the code
-- that writes the table.

-- finml.bundle.runs.JOB_RUNS_SCHEMA: one row per task attempt of a job run.
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.job_runs (
  run_id STRING,
  job STRING,
  task STRING,
  attempt INT,
  state STRING COMMENT 'SUCCESS, FAILED, TIMEDOUT, UPSTREAM_FAILED or EXCLUDED',
  start_time TIMESTAMP,
  end_time TIMESTAMP,
  seconds DOUBLE,
  exit_code INT,
  logs_path STRING,
  target STRING,
  git_commit STRING,
  message STRING
) USING DELTA COMMENT 'Job runs: one row per task attempt';

-- finml.pipelines.quality.DQ_SCHEMA: data quality per layer, table and stage batch.
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.data_quality_log (
  run_id STRING,
  layer STRING,
  table_name STRING,
  source_version BIGINT,
  rows_in BIGINT,
  rows_out BIGINT,
  rows_quarantined BIGINT,
  rows_dropped BIGINT,
  duplicates_removed BIGINT,
  rule_failures MAP<STRING, BIGINT>,
  completeness DOUBLE,
  uniqueness DOUBLE,
  validity DOUBLE,
  quality_score DOUBLE,
  computed_at TIMESTAMP,
  stage STRING,
  batch_id BIGINT,
  source_start_version BIGINT
) USING DELTA COMMENT 'Data quality per layer, table and stage batch';

-- Batch scoring output (shared contract).
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.predictions (
  symbol STRING,
  ts TIMESTAMP,
  trade_id STRING,
  score DOUBLE COMMENT 'anomaly probability in [0, 1]',
  prediction INT,
  model_name STRING,
  model_version STRING,
  scored_at TIMESTAMP
) USING DELTA COMMENT 'Batch predictions of the anomaly model';

-- REST serving log (shared contract).
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.inference_log (
  request_id STRING,
  logged_at TIMESTAMP,
  model_name STRING,
  model_version STRING,
  variant STRING COMMENT 'champion, challenger or shadow',
  symbol STRING,
  ts TIMESTAMP,
  trade_id STRING,
  inputs STRING COMMENT 'JSON of the features',
  inputs_hash STRING,
  score DOUBLE,
  prediction INT,
  latency_ms DOUBLE
) USING DELTA COMMENT 'Every REST inference, for monitoring and A/B analysis';

-- finml.models.audit.GATE_SCHEMA
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.champion_challenger_audit (
  event_id STRING,
  decided_at TIMESTAMP,
  model_name STRING,
  challenger_version STRING,
  champion_version STRING,
  metric STRING,
  challenger_metric DOUBLE,
  champion_metric DOUBLE,
  improvement DOUBLE,
  ci_low DOUBLE,
  ci_high DOUBLE,
  min_improvement DOUBLE,
  holdout_rows BIGINT,
  decision STRING,
  reasons STRING,
  validation STRING,
  holdout_decision STRING,
  ab_test_id STRING
) USING DELTA COMMENT 'Champion/challenger decisions (holdout gate, replay A/B, manual)';

-- finml.models.audit.ROLLBACK_SCHEMA
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.rollback_audit (
  event_id STRING,
  rolled_back_at TIMESTAMP,
  model_name STRING,
  from_version STRING,
  to_version STRING,
  decision STRING,
  reason STRING,
  from_metrics STRING,
  to_metrics STRING,
  feature_table_version BIGINT,
  feature_table_restored BOOLEAN
) USING DELTA COMMENT 'Model rollbacks';

-- finml.regimes.promotion.REGIME_AUDIT_SCHEMA
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.regime_model_audit (
  event_id STRING,
  decided_at TIMESTAMP,
  model_name STRING,
  challenger_version STRING,
  champion_version STRING COMMENT 'the champion compared with (null: none yet)',
  challenger_loglik DOUBLE COMMENT 'held-out next-regime log-likelihood (nats, summed)',
  champion_loglik DOUBLE COMMENT 'the champion on the same held-out transitions',
  heldout_transitions BIGINT,
  margin DOUBLE,
  decision STRING COMMENT 'PROMOTE or REJECT',
  reason STRING
) USING DELTA COMMENT 'Regime model champion/challenger decisions';

-- finml.monitoring.schemas.RETRAINING_AUDIT
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.retraining_audit (
  decision_id STRING,
  sequence BIGINT,
  decided_at TIMESTAMP,
  decision STRING,
  reason STRING,
  conditions STRING,
  violating_windows BIGINT,
  window_count BIGINT,
  new_samples BIGINT,
  action STRING,
  action_status STRING,
  action_detail STRING
) USING DELTA COMMENT 'Retraining trigger decisions';

-- finml.monitoring.schemas.ALERTS
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.alerts (
  alert_id STRING,
  created_at TIMESTAMP,
  alert_type STRING,
  severity STRING,
  title STRING,
  message STRING,
  source STRING,
  dedup_key STRING,
  details STRING,
  status STRING,
  destination STRING,
  attempts BIGINT,
  last_error STRING,
  delivered_at TIMESTAMP,
  escalated BOOLEAN,
  acknowledged_by STRING,
  acknowledged_at TIMESTAMP,
  ack_note STRING
) USING DELTA COMMENT 'Alerts, their delivery, escalation and acknowledgement';

-- finml.monitoring.schemas.DRIFT_MONITORING
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.drift_monitoring (
  `window` STRUCT<start:TIMESTAMP, end:TIMESTAMP>,
  granularity STRING,
  column_name STRING,
  data_type STRING,
  drift_type STRING,
  count_reference BIGINT,
  count_current BIGINT,
  population_stability_index DOUBLE,
  js_distance DOUBLE,
  ks_test STRUCT<statistic:DOUBLE, pvalue:DOUBLE>,
  wasserstein_distance DOUBLE,
  chi_squared_test STRUCT<statistic:DOUBLE, pvalue:DOUBLE>,
  tv_distance DOUBLE,
  l_infinity_distance DOUBLE,
  severity STRING,
  reference STRING,
  _run_id STRING,
  _computed_at TIMESTAMP
) USING DELTA COMMENT 'Feature and score drift per window and column';

-- finml.monitoring.schemas.MODEL_MONITORING
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.model_monitoring (
  `window` STRUCT<start:TIMESTAMP, end:TIMESTAMP>,
  granularity STRING,
  model_name STRING,
  model_version STRING,
  source STRING,
  count BIGINT,
  labelled_count BIGINT,
  positive_count BIGINT,
  predicted_positive_count BIGINT,
  pr_auc DOUBLE,
  roc_auc DOUBLE,
  precision DOUBLE,
  recall DOUBLE,
  f1 DOUBLE,
  brier_score DOUBLE,
  latency_p50_ms DOUBLE,
  latency_p95_ms DOUBLE,
  latency_p99_ms DOUBLE,
  _computed_at TIMESTAMP
) USING DELTA COMMENT 'Model performance per window';

-- finml.jobs.serving.AB_TESTS_SCHEMA
CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.ab_tests (
  test_id STRING,
  analyzed_at TIMESTAMP,
  model_name STRING,
  inference_log_version BIGINT,
  labels_table STRING,
  champion_versions STRING,
  challenger_versions STRING,
  challenger_variant STRING,
  metric STRING,
  alpha DOUBLE,
  champion_n BIGINT,
  challenger_n BIGINT,
  champion_precision DOUBLE,
  challenger_precision DOUBLE,
  champion_recall DOUBLE,
  challenger_recall DOUBLE,
  precision_z DOUBLE,
  precision_p_value DOUBLE,
  recall_z DOUBLE,
  recall_p_value DOUBLE,
  decision STRING,
  reason STRING,
  champion_confusion STRING,
  challenger_confusion STRING
) USING DELTA COMMENT 'A/B test analyses of champion vs challenger';
