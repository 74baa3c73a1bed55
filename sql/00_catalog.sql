-- Unity Catalog objects of one FinML environment: one catalog per environment
-- (finml_dev, finml_acc, finml_prd), the `markets` schema, volumes and grants.
-- ${catalog} / ${schema} are substituted before running (finml.bundle.ddl.render, or by hand),
-- e.g. in a SQL warehouse of the dev workspace with catalog=finml_dev, schema=markets.
CREATE CATALOG IF NOT EXISTS ${catalog} COMMENT 'FinML market-risk lakehouse';
CREATE SCHEMA IF NOT EXISTS ${catalog}.${schema}
  COMMENT 'Bronze/silver/gold market data, features, predictions and audit tables';
-- The declarative pipeline (resources/medallion_pipeline.yml) publishes the same medallion
-- tables here, never in ${schema}: the ingestion job owns those.
CREATE SCHEMA IF NOT EXISTS ${catalog}.${schema}_dlt
  COMMENT 'Medallion tables of the declarative pipeline (DLT), apart from the jobs';

-- Landing zone for raw market files (JSON lines, CSV, Parquet) read by the ingestion task.
CREATE VOLUME IF NOT EXISTS ${catalog}.${schema}.landing
  COMMENT 'Landing zone for raw market files (JSON lines, CSV, Parquet)';
-- Streaming checkpoints and job state (config `home` on Databricks).
CREATE VOLUME IF NOT EXISTS ${catalog}.${schema}.state COMMENT 'Checkpoints and job state';

-- Engineers build and run the jobs; readers (analysts, the dashboard) only query.
GRANT USE CATALOG ON CATALOG ${catalog} TO `finml-engineers`;
GRANT USE SCHEMA, SELECT, MODIFY, CREATE TABLE, CREATE VOLUME, CREATE MODEL
  ON SCHEMA ${catalog}.${schema} TO `finml-engineers`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME ${catalog}.${schema}.landing TO `finml-engineers`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME ${catalog}.${schema}.state TO `finml-engineers`;
GRANT USE CATALOG ON CATALOG ${catalog} TO `finml-readers`;
GRANT USE SCHEMA, SELECT ON SCHEMA ${catalog}.${schema} TO `finml-readers`;
GRANT USE SCHEMA, SELECT ON SCHEMA ${catalog}.${schema}_dlt TO `finml-readers`;
-- The jobs' service principal (run_as in production) writes tables and registers models.
GRANT USE CATALOG ON CATALOG ${catalog} TO `finml-jobs`;
GRANT USE SCHEMA, SELECT, MODIFY, CREATE TABLE, CREATE MODEL, EXECUTE
  ON SCHEMA ${catalog}.${schema} TO `finml-jobs`;
-- The pipeline runs as the jobs' principal too; it creates and refreshes its own tables.
GRANT USE SCHEMA, SELECT, MODIFY, CREATE TABLE, CREATE MATERIALIZED VIEW
  ON SCHEMA ${catalog}.${schema}_dlt TO `finml-jobs`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME ${catalog}.${schema}.landing TO `finml-jobs`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME ${catalog}.${schema}.state TO `finml-jobs`;
