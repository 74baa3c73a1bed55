# Databricks notebook source
"""Declarative pipeline source of FinML's medallion, for both engines.

* Databricks (Lakeflow Declarative Pipelines, ``import dlt``): resources/medallion_pipeline.yml.
* Open-source Spark Declarative Pipelines (``from pyspark import pipelines``):
  resources/sdp/spark-pipeline.yml, run by ``finml pipeline run --declarative``.

The pipeline configuration passes ``finml.landing`` (the landing path) and optionally
``finml.quality`` (the quality section as JSON). Every table and rule comes from the table
contracts through finml.pipelines.dlt_binding, as the local runner's do.
"""

from pyspark.sql import SparkSession

from finml.pipelines.dlt_binding import define_from_conf

try:  # the Databricks runtime's module, with expectations
    import dlt as dp  # type: ignore[import-not-found]

    if not hasattr(dp, "expect_all"):  # some other package called dlt
        raise ImportError("dlt without expectations")
except ImportError:  # open-source Spark: expectations are enforced by the binding
    from pyspark import pipelines as dp

# Both engines put the session in the module's globals as `spark`.
spark = globals().get("spark") or SparkSession.getActiveSession()
define_from_conf(dp, spark)
