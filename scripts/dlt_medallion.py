# Databricks notebook source
# Lakeflow Declarative Pipelines (DLT) source for FinML's medallion.
# The pipeline resource passes `finml.landing` (the landing volume path) in its configuration.
# All table and expectation definitions live in finml.pipelines.dlt_binding, generated from
# the same specs the local runner (`finml pipeline run`) enforces.
import dlt  # type: ignore[import-not-found]  # provided by the Databricks runtime
from pyspark.sql import SparkSession

from finml.pipelines.dlt_binding import define_pipeline

spark = SparkSession.getActiveSession()
landing = spark.conf.get("finml.landing", None) if spark else None
if not landing:
    raise ValueError("pipeline configuration 'finml.landing': expected the landing path, got none")
define_pipeline(dlt, spark, landing)
