"""Run by test_standalone_cluster.py with ``spark-submit --master spark://... --py-files
<finml wheel as .zip>``: a small tournament through ``SparkExecutor`` (the fit tasks run on
the cluster's executors) and through ``SequentialExecutor`` (here, in the driver), compared
exactly; and where the executors' Python and ``finml`` come from. Writes its findings as
JSON to ``argv[1]``."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd


def where_executors_run(batches):  # runs on the executors
    import os
    import sys
    import time

    import finml

    time.sleep(0.3)  # long enough for both executors to take tasks
    for batch in batches:
        yield pd.DataFrame(
            {
                "executable": [sys.executable] * len(batch),
                "finml": [finml.__file__] * len(batch),
                "workdir": [os.getcwd()] * len(batch),  # <worker work dir>/<app>/<executor>
            }
        )


def main(out: str) -> None:
    from pyspark.sql import SparkSession

    import finml
    from finml.models.data import split_from_frame
    from finml.models.fanout_spark import SparkExecutor
    from finml.models.settings import ModelSettings
    from finml.models.synthetic import train_test
    from finml.models.tournament import run_tournament

    spark = SparkSession.builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    schema = "executable string, finml string, workdir string"
    places = spark.range(0, 8, numPartitions=8).mapInPandas(where_executors_run, schema)
    settings = ModelSettings(
        n_jobs=1,
        candidates=("lightgbm", "random_forest", "isolation_forest", "ensemble"),
        params={"lightgbm": {"n_estimators": 30}, "random_forest": {"n_estimators": 20}},
    )
    train, test = train_test(1500, seed=3)
    splits = split_from_frame(train, "train_set"), split_from_frame(test, "test_set")
    sequential = run_tournament(*splits, settings)
    fanned = run_tournament(*splits, settings, executor=SparkExecutor(spark, chunk_rows=400))
    times = ["fit_seconds", "predict_seconds"]
    pairs = list(zip(fanned.results, sequential.results, strict=False))  # names compared
    report = {
        "master": spark.conf.get("spark.master"),
        "driver_finml": finml.__file__,
        "executors": [row.asDict() for row in places.distinct().collect()],
        "candidates": [r.name for r in fanned.results],
        "sequential_candidates": [r.name for r in sequential.results],
        "leaderboards_equal": fanned.leaderboard()
        .drop(columns=times)
        .equals(sequential.leaderboard().drop(columns=times)),
        "fold_scores_equal": {
            a.name: len(a.fold_scores) == len(b.fold_scores)
            and all(
                x.dtype == y.dtype and np.array_equal(x, y)
                for x, y in zip(a.fold_scores, b.fold_scores, strict=False)
            )
            for a, b in pairs
        },
        "holdout_scores_equal": {
            a.name: bool(np.array_equal(a.holdout_scores, b.holdout_scores)) for a, b in pairs
        },
        "holdout_rows": len(fanned.results[0].holdout_scores),
    }
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
