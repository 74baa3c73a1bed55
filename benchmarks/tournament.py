"""Model tournament wall time (all default candidates, 3 walk-forward folds) and in-process
scoring throughput, on synthetic labelled trades following the train/test contract.

``--fanout spark`` runs the fits as Spark tasks on a local session (``spark.master`` of the
project config, local[2] by default) instead of in this process (``n_jobs`` one-thread fits
at once, as ``fanout: local`` does); the per-candidate task seconds are printed either way.

Baselines measured in the same run: one LightGBM fit on the same training rows (the cost of
"just train one model"), and the raw LightGBM ``predict_proba`` on the same matrix (the cost
the pyfunc's feature selection + imputation + thresholding adds to).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Measure, console, parser, progress, report


class Recording:
    """Runs fit tasks on ``inner`` and keeps their outcomes (per-candidate task times)."""

    def __init__(self, inner) -> None:
        self.inner, self.outcomes = inner, []

    def map(self, tasks, train, folds, progress=None):
        outcomes = self.inner.map(tasks, train, folds, progress)
        self.outcomes.extend(outcomes)
        return outcomes


def _tournament(
    rows: int, settings, bar, task, executor
) -> tuple[Measure, Measure, Measure, Measure, dict]:
    from finml.models.base import Preprocessor
    from finml.models.data import split_from_frame
    from finml.models.roster import build
    from finml.models.synthetic import train_test
    from finml.models.tournament import run_tournament

    train_frame, test_frame = train_test(rows, seed=1)
    train, test = split_from_frame(train_frame, "train"), split_from_frame(test_frame, "test")
    bar.update(task, description=f"tournament, {rows:,} rows")
    started = time.perf_counter()
    result = run_tournament(train, test, settings, executor=executor)
    tournament = time.perf_counter() - started
    bar.advance(task)

    bar.update(task, description=f"single LightGBM fit, {rows:,} rows")
    prep = Preprocessor(train.features).fit(train.frame)
    X = prep.transform(train.frame)
    started = time.perf_counter()
    single = build("lightgbm", seed=settings.seed, n_jobs=settings.n_jobs).fit(X, train.y)
    one_fit = time.perf_counter() - started
    bar.advance(task)

    winner = result.winner.model
    features = test.frame[list(train.features)]
    X_test = prep.transform(test.frame)
    score_times, raw_times = [], []
    for _ in range(3):
        started = time.perf_counter()
        winner.score_frame(features)
        score_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        single.model.predict_proba(X_test)
        raw_times.append(time.perf_counter() - started)
    bar.advance(task)
    n_test = len(test.frame)
    measures = (
        Measure(f"tournament {rows:,}", tournament, tournament, len(train.frame)),
        Measure(f"one lightgbm fit {rows:,}", one_fit, one_fit, len(train.frame)),
        Measure(f"pyfunc score ({result.winner.name})", min(score_times), min(score_times), n_test),
        Measure("raw lightgbm predict_proba", min(raw_times), min(raw_times), n_test),
    )
    board = result.leaderboard()[["candidate", "cv_pr_auc", "holdout_pr_auc", "fit_seconds"]]
    return (*measures, board.to_dict(orient="records"))  # type: ignore[return-value]


def _task_seconds(outcomes) -> dict[str, float]:
    """Each candidate's fit tasks' seconds added up (folds and refit)."""
    totals: dict[str, float] = {}
    for outcome in outcomes:
        name = outcome.task.candidate
        totals[name] = round(totals.get(name, 0.0) + outcome.seconds, 2)
    return totals


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0], "python benchmarks/tournament.py --sizes 200000,1000000", 0)
    p.add_argument("--sizes", default="200000,1000000", help="comma-separated total row counts")
    p.add_argument(
        "--n-jobs", type=int, default=2, help="local: fits at once; spark: threads per fit"
    )
    p.add_argument(
        "--fanout", choices=("local", "spark"), default="local", help="where the fits run"
    )
    args = p.parse_args(argv)
    import finml.models  # noqa: F401  (OMP_WAIT_POLICY before LightGBM/XGBoost load)
    from finml.models.fanout import local_executor
    from finml.models.settings import ModelSettings

    settings = ModelSettings(n_jobs=args.n_jobs)
    if args.fanout == "spark":
        from finml.models.fanout_spark import SparkExecutor
        from finml.runtime.spark import get_spark

        inner = SparkExecutor(get_spark())
    else:
        inner = local_executor(args.n_jobs)  # n_jobs one-thread fits at once
    sizes = [int(s) for s in args.sizes.split(",")]
    pairs, boards, tasks = [], {}, {}
    with progress() as bar:
        task = bar.add_task("tournament", total=3 * len(sizes))
        for rows in sizes:
            executor = Recording(inner)
            tour, one, scored, raw, board = _tournament(rows, settings, bar, task, executor)
            # aim (issue 21): the tournament within 8 single LightGBM fits
            pairs += [(tour, one, 8.0), (scored, raw, 1.5)]
            boards[rows] = board
            tasks[rows] = _task_seconds(executor.outcomes)
    for rows, board in boards.items():
        console.print(f"leaderboard at {rows:,} rows (75 % train):")
        for row in board:
            console.print(
                f"  {row['candidate']:<17} cv PR-AUC {row['cv_pr_auc']:.4f}  holdout "
                f"{row['holdout_pr_auc']:.4f}  fit {row['fit_seconds']:.1f} s"
            )
        seconds = tasks[rows]
        console.print(
            f"  task seconds by candidate ({args.fanout}, n_jobs {args.n_jobs}): "
            + ", ".join(f"{name} {value:.1f}" for name, value in seconds.items())
            + f"; all tasks {sum(seconds.values()):.1f}"
        )
    extra = {"sizes": sizes, "leaderboards": boards, "task_seconds": tasks, "fanout": args.fanout}
    report("Tournament", pairs, args.out, extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
