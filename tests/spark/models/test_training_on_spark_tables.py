"""Training on train/test sets written by Spark (as the feature store writes them), and the
leaderboard / audit tables read back through Spark."""

from __future__ import annotations

from chispa import assert_df_equality

from finml.models.settings import ModelSettings, ValidationSettings
from finml.models.synthetic import train_test

FAST = ModelSettings(
    n_jobs=1,
    candidates=("lightgbm", "xgboost"),
    params={"lightgbm": {"n_estimators": 30}, "xgboost": {"n_estimators": 30}},
    validation=ValidationSettings(floors={"pr_auc": 0.05}),
)


def test_training_reads_spark_written_sets_and_writes_spark_readable_results(
    spark, config, tables
) -> None:
    from finml.jobs.training import run_training

    train, test = train_test(2000, seed=6)
    for name, frame in (("train_set", train), ("test_set", test)):
        tables.table(name).overwrite(spark.createDataFrame(frame))
    report = run_training(config, spark, tables, FAST)
    assert report.decision.promoted
    assert report.tournament.train_rows == 1500 and report.tournament.test_rows == 500

    board = tables.table("model_leaderboard").read().select("rank", "candidate", "is_baseline")
    expected = spark.createDataFrame(
        [(i + 1, r.name, r.is_baseline) for i, r in enumerate(report.tournament.results)],
        board.schema,
    )
    assert_df_equality(board, expected, ignore_row_order=True, ignore_nullable=True)
    audit = tables.table("champion_challenger_audit").read()
    assert audit.select("decision", "challenger_version").collect()[0].asDict() == {
        "decision": "PROMOTE",
        "challenger_version": "1",
    }
