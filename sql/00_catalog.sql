-- Unity Catalog objects for one FinML environment. Run with the catalog substituted, e.g.
--   databricks sql ... or a SQL warehouse, replacing ${catalog} by finml_dev / finml_acc / finml_prd.
CREATE CATALOG IF NOT EXISTS ${catalog} COMMENT 'FinML market-risk lakehouse';
CREATE SCHEMA IF NOT EXISTS ${catalog}.markets COMMENT 'Bronze/silver/gold market data, features, audit tables';
CREATE VOLUME IF NOT EXISTS ${catalog}.markets.landing COMMENT 'Landing zone for raw market files (JSON lines, CSV, Parquet)';
CREATE VOLUME IF NOT EXISTS ${catalog}.markets.state COMMENT 'Checkpoints and job state';

GRANT USE CATALOG ON CATALOG ${catalog} TO `finml-engineers`;
GRANT USE SCHEMA, SELECT, MODIFY, CREATE TABLE ON SCHEMA ${catalog}.markets TO `finml-engineers`;
GRANT READ VOLUME, WRITE VOLUME ON VOLUME ${catalog}.markets.landing TO `finml-engineers`;
GRANT USE CATALOG ON CATALOG ${catalog} TO `finml-readers`;
GRANT USE SCHEMA, SELECT ON SCHEMA ${catalog}.markets TO `finml-readers`;
