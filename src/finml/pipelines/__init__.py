"""Data pipelines: ingestion, expectations, bronze/silver/gold transforms, the medallion runner."""
