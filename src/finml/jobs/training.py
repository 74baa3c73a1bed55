"""The training job: tournament → leaderboard (Delta + MLflow) → register the winner as
``challenger`` → validate the registered model → champion/challenger gate → (with a
champion) replay A/B → promotion or archive. ``decision`` is the final one: PROMOTE only
when ``champion`` moved.

>>> report = run_training(config, spark, tables)      # doctest: +SKIP
>>> console.print(report.leaderboard_table())           # doctest: +SKIP
>>> rollback(config, tables, "PR-AUC dropped in production")   # doctest: +SKIP
>>> promote_manual(config, tables, 7, "hotfix approved by risk")   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from finml.errors import ConfigError
from finml.jobs.ensemble_monitoring import live_evidence
from finml.log import get_logger
from finml.models.audit import LEADERBOARD
from finml.models.data import TEST_SET, TRAIN_SET, Split, load_split
from finml.models.explain import explain_winner
from finml.models.fanout import Executor
from finml.models.kinds import KIND_TABLE, holdout_kinds, kind_quality
from finml.models.metrics import MetricSettings
from finml.models.promotion import METRIC_TAG, RollbackRecord, gate, version_uri
from finml.models.promotion import rollback as _rollback
from finml.models.settings import ModelSettings
from finml.models.tournament import Progress, TournamentResult, run_tournament
from finml.models.tracking import log_tournament
from finml.models.validator import ModelValidator, ValidationReport
from finml.registry import (
    ANOMALY_EXPERIMENT,
    ANOMALY_MODEL,
    CHALLENGER,
    LATEST,
    VersionInfo,
    configure,
    lineage_tags,
    model_name,
    register,
    source_tags,
)

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession
    from rich.table import Table as RichTable

    from finml.config import ProjectConfig
    from finml.models.gate import Decision
    from finml.runtime.delta import DeltaTables

log = get_logger("jobs.training")
BOARD_COLUMNS = ("pr_auc", "roc_auc", "f1", "precision_at_k", "recall_at_fpr", "brier")


@dataclass
class TrainingReport:
    tournament: TournamentResult
    model_name: str
    version: VersionInfo
    validation: ValidationReport
    decision: Decision
    run_id: str

    @property
    def winner(self) -> str:
        return self.tournament.winner.name

    def leaderboard_table(self) -> RichTable:
        """The leaderboard as a rich table (walk-forward and holdout PR-AUC, key metrics)."""
        from rich.table import Table as RichTable

        table = RichTable(
            "rank", "candidate", "cv pr_auc", *(f"holdout {c}" for c in BOARD_COLUMNS),
            "fit s", title=f"Tournament ({self.tournament.train_rows:,} train / "
            f"{self.tournament.test_rows:,} holdout rows)",
        )  # fmt: skip
        for rank, r in enumerate(self.tournament.results, start=1):
            label = f"{r.name} (baseline)" if r.is_baseline else r.name
            table.add_row(
                str(rank), label, f"{r.cv['pr_auc']:.4f}",
                *(f"{r.holdout[c]:.4f}" for c in BOARD_COLUMNS), f"{r.fit_seconds:.1f}",
            )  # fmt: skip
        return table

    def summary(self) -> str:
        d = self.decision
        ab = f" (replay A/B {d.ab_test_id})" if d.ab_test_id else ""
        studies = [
            f"; Optuna {s.candidate}: {len(s.trials)} trials ({s.pruned} pruned), best "
            f"{s.best_value if s.best_value is None else round(s.best_value, 4)}, "
            f"Pareto front trials {list(s.pareto)}"
            for s in (r.tuning for r in self.tournament.results)
            if s is not None
        ]
        return (
            f"winner {self.winner} registered as {self.model_name} v{self.version.version} "
            f"(@{CHALLENGER}); validation {'passed' if self.validation.passed else 'FAILED'}; "
            f"holdout gate {d.holdout_decision}; decision {d.decision}{ab}: {'; '.join(d.reasons)}"
            + "".join(studies)
        )


def fit_executor(settings: ModelSettings, spark: SparkSession | None) -> Executor | None:
    """Where the tournament's fits run (``models.fanout``): None (in this process,
    ``n_jobs`` at once: :func:`finml.models.fanout.local_executor`) or one Spark task each
    on ``spark``.

    Raises:
        ConfigError: ``fanout`` is ``spark`` but the job has no Spark session (the delta-rs
            engine without Spark).
    """
    if settings.fanout == "local":
        return None
    if spark is None:
        raise ConfigError(
            "models.fanout: expected 'local' when the job runs without Spark (delta-rs "
            "engine), got 'spark'"
        )
    from finml.models.fanout_spark import SparkExecutor

    return SparkExecutor(spark)


def tuned_settings(
    config: ProjectConfig, trials: int | str, timeout_seconds: float | str
) -> ModelSettings:
    """The config's model settings with Optuna tuning on (``trials`` per candidate of
    ``models.tuning.candidates``, ``timeout_seconds`` each); as configured when ``trials``
    is 0. Strings (a job's parameters) are parsed.

    Raises:
        ConfigError: a value that is not a number, a negative number of trials or a
            non-positive budget.
    """
    settings = ModelSettings.from_config(config)
    try:
        trials, timeout_seconds = int(trials), float(timeout_seconds)
    except ValueError:
        raise ConfigError(
            f"tuning: expected an integer number of trials and a number of seconds, got "
            f"{trials!r} and {timeout_seconds!r}"
        ) from None
    if trials < 0 or timeout_seconds <= 0:
        raise ConfigError(
            f"tuning: expected trials >= 0 and timeout_seconds > 0, got {trials} and "
            f"{timeout_seconds}"
        )
    if trials == 0:
        return settings
    tuning = settings.tuning.model_copy(
        update={"enabled": True, "trials": trials, "timeout_seconds": timeout_seconds}
    )
    return settings.model_copy(update={"tuning": tuning})


def run_training(
    config: ProjectConfig,
    spark: SparkSession | None,
    tables: DeltaTables,
    settings: ModelSettings | None = None,
    progress: Progress | None = None,
) -> TrainingReport:
    """Run the tournament on ``train_set``/``test_set``, register the winner, validate it
    and gate it against the champion (auto-promoted when there is none; with a champion, a
    holdout PROMOTE is confirmed by a replay A/B before the aliases move -- see
    :func:`finml.models.promotion.gate`).

    Raises:
        TableNotFound: ``train_set`` or ``test_set`` is missing.
        ConfigError: the ``models`` config section is invalid.
        SchemaMismatch, DataError: a set breaks the feature-store contract.
    """
    import mlflow

    settings = settings or ModelSettings.from_config(config)
    train = load_split(tables, TRAIN_SET, settings.max_train_rows)
    test = load_split(tables, TEST_SET)
    if set(train.features) != set(test.features):
        from finml.errors import SchemaMismatch

        raise SchemaMismatch(
            f"table {TEST_SET}: expected the feature columns of {TRAIN_SET} "
            f"{list(train.features)}, got {list(test.features)}"
        )
    experiment_id = configure(config, ANOMALY_EXPERIMENT)
    name = model_name(config, ANOMALY_MODEL)
    tags = lineage_tags(
        config,
        feature_table_version=train.feature_table_version,
        data_window=train.window,
        holdout_window=test.window,
    )
    run_tags = tags | source_tags()
    with mlflow.start_run(run_name="tournament", tags=run_tags, experiment_id=experiment_id) as run:
        live = live_evidence(tables, name)
        result = run_tournament(
            train, test, settings, progress, fit_executor(settings, spark), live=live
        )
        logged = log_tournament(result, train, test, settings)
        kinds = _kind_quality(tables, result, test)
        explained = explain_winner(result, test)
    version = _register(config, name, result, logged.model_uris[result.winner.name], tags)
    _write_leaderboard(tables, result, run.info.run_id, name, version.version, train, settings)
    if kinds is not None:
        explained[KIND_TABLE] = kinds
    for table, frame in explained.items():
        _write_stamped(tables, table, frame, run.info.run_id, name, version.version)
    validation = ModelValidator(
        settings.validation, MetricSettings(settings.precision_at_k, settings.recall_at_fpr)
    ).validate(version_uri(name, version.version), test)
    decision = gate(config, tables, settings, name, version.version, test, validation)
    log.info("training_done", winner=result.winner.name, version=version.version)
    return TrainingReport(result, name, version, validation, decision, run.info.run_id)


def _kind_quality(
    tables: DeltaTables, result: TournamentResult, test: Split
) -> pd.DataFrame | None:
    """Per-anomaly-kind recall/precision of every candidate on the holdout (simulated data
    only), logged to the active run as ``anomaly_kinds.csv`` and the winner's
    ``winner_recall_<kind>`` metrics; None without simulator truth."""
    import mlflow

    kinds = holdout_kinds(tables, test)
    if kinds is None:
        return None
    quality = kind_quality(result, test.y, kinds)
    mlflow.log_text(quality.to_csv(index=False), "anomaly_kinds.csv")
    winner = quality[quality["candidate"] == result.winner.name]
    recall = dict(zip(winner["anomaly_type"], winner["recall"].astype(float), strict=True))
    mlflow.log_metrics({f"winner_recall_{kind}": value for kind, value in recall.items()})
    log.info(
        "anomaly_kind_recall",
        winner=result.winner.name,
        recall={kind: round(value, 3) for kind, value in recall.items()},
    )
    return quality


def _write_stamped(
    tables: DeltaTables, table: str, frame: pd.DataFrame, run_id: str, name: str, version: int
) -> None:
    """Append ``frame`` (per-candidate rows of this tournament) to ``table``, stamped."""
    data = _stamped(pa.Table.from_pandas(frame, preserve_index=False), run_id, name, version)
    tables.table(table).append(data, schema_evolution=True)


def _stamped(data: pa.Table, run_id: str, name: str, version: int, **more: pa.Array) -> pa.Table:
    """``data`` with the tournament's columns appended (run id, time, model name, registered
    version), then ``more``."""
    n = data.num_rows
    columns: dict[str, pa.Array] = {
        "tournament_id": pa.array([run_id] * n, pa.string()),
        "trained_at": pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")),
        "model_name": pa.array([name] * n, pa.string()),
        "registered_version": pa.array([str(version)] * n, pa.string()),
    }
    for column, values in (columns | more).items():
        data = data.append_column(column, values)
    return data


def _register(
    config: ProjectConfig, name: str, result: TournamentResult, uri: str, tags: dict[str, str]
) -> VersionInfo:
    winner = result.winner
    extra = {f"{METRIC_TAG}{k}": f"{v:.6f}" for k, v in winner.holdout.items()}
    extra["finml.candidate"] = winner.name
    extra["finml.threshold"] = f"{winner.threshold:.6f}"
    return register(config, uri, name, aliases=(CHALLENGER, LATEST), tags=tags | extra)


def _write_leaderboard(
    tables: DeltaTables,
    result: TournamentResult,
    run_id: str,
    name: str,
    version: int,
    train: Split,
    settings: ModelSettings,
) -> None:
    board = result.leaderboard()
    board["rank"] = board["rank"].astype("int64")
    n = len(board)
    data = _stamped(
        pa.Table.from_pandas(board, preserve_index=False),
        run_id,
        name,
        version,
        feature_table_version=pa.array([train.feature_table_version] * n, pa.int64()),
        train_rows=pa.array([result.train_rows] * n, pa.int64()),
        test_rows=pa.array([result.test_rows] * n, pa.int64()),
        seed=pa.array([settings.seed] * n, pa.int64()),
    )
    tables.table(LEADERBOARD).append(data, schema_evolution=True)


def rollback(
    config: ProjectConfig,
    tables: DeltaTables,
    reason: str,
    *,
    restore_features: bool = False,
) -> RollbackRecord:
    """Point the anomaly model's ``champion`` back at ``previous-champion`` (audited).

    Raises:
        ModelNotFound: there is no previous champion to return to.
    """
    return _rollback(
        config, tables, model_name(config, ANOMALY_MODEL), reason, restore_features=restore_features
    )


def promote_manual(
    config: ProjectConfig,
    tables: DeltaTables,
    version: int,
    reason: str,
    *,
    live_from: datetime | None = None,
) -> Decision:
    """Force anomaly-model ``version`` to ``champion`` (no gate, no A/B), audited as
    ``MANUAL_PROMOTE``; the automatic rollback check watches it like any promotion.

    Raises:
        ModelNotFound: no such version.
    """
    from finml.models.lifecycle import promote_manual as _promote_manual

    return _promote_manual(config, tables, version, reason, live_from=live_from)


def promote_version(
    config: ProjectConfig,
    tables: DeltaTables,
    version: int | None = None,
    settings: ModelSettings | None = None,
) -> Decision:
    """Gate ``version`` (default: the ``challenger``) against the champion on ``test_set``.

    Raises:
        ModelNotFound: no such version / no challenger.
        TableNotFound: ``test_set`` is missing.
    """
    from finml.registry import require_alias, require_version

    settings = settings or ModelSettings.from_config(config)
    configure(config)  # the validator loads the model through MLflow's global URIs
    name = model_name(config, ANOMALY_MODEL)
    if version is None:
        version = require_alias(config, name, CHALLENGER).version
    else:
        require_version(config, name, version)
    test = load_split(tables, TEST_SET)
    validation = ModelValidator(
        settings.validation, MetricSettings(settings.precision_at_k, settings.recall_at_fpr)
    ).validate(version_uri(name, version), test)
    return gate(config, tables, settings, name, version, test, validation)
