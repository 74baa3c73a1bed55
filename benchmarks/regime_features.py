"""Regimes as features (issue 22 item 4): the tournament on a finished demo's train/test sets,
without and with the regime model's filtered probabilities of the previous trading day
(:mod:`finml.regimes.as_features`), same seed, same folds; holdout PR-AUC per candidate and
per anomaly kind.

    FINML_HOME=/tmp/demohome .venv/bin/finml demo
    FINML_HOME=/tmp/demohome .venv/bin/python benchmarks/regime_features.py
"""

from __future__ import annotations

import sys
import time

from _common import demo_sets


def main(argv: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    from finml.models.data import Split
    from finml.models.kinds import holdout_kinds, kind_quality
    from finml.models.tournament import run_tournament
    from finml.regimes.as_features import FEATURE_COLUMNS, previous_day_posteriors

    sets = demo_sets(argv, __doc__.splitlines()[0])
    tables, settings, train, test = sets.tables, sets.settings, sets.train, sets.test
    console = Console()
    states = tables.require("regime_states").to_arrow().to_pandas()

    def with_regimes(split: Split) -> Split:
        frame = previous_day_posteriors(split.frame, states)
        features = (*split.features, *FEATURE_COLUMNS)
        return Split(split.table, frame, features, split.feature_table_version, split.source)

    covered = with_regimes(test).frame[FEATURE_COLUMNS[0]].notna().mean()
    console.print(
        f"train {len(train.frame):,} rows, test {len(test.frame):,} rows, "
        f"{len(states)} regime days; test rows with a previous regime day: {covered:.1%}"
    )
    kinds = holdout_kinds(tables, test)
    runs = {}
    for name, (a, b) in {
        "without": (train, test),
        "with regimes": (with_regimes(train), with_regimes(test)),
    }.items():
        started = time.perf_counter()
        runs[name] = run_tournament(a, b, settings)
        console.print(f"{name}: tournament {time.perf_counter() - started:.1f} s")

    board = Table("candidate", "holdout PR-AUC without", "with regimes", "change",
                  title="Regimes as features: holdout PR-AUC")  # fmt: skip
    without = {r.name: r.holdout.get("pr_auc", float("nan")) for r in runs["without"].results}
    for result in runs["with regimes"].results:
        base, new = without[result.name], result.holdout.get("pr_auc", float("nan"))
        board.add_row(result.name, f"{base:.4f}", f"{new:.4f}", f"{new - base:+.4f}")
    console.print(board)
    for name, result in runs.items():
        console.print(f"winner {name}: {result.winner.name}")
    if kinds is not None:
        for name, result in runs.items():
            quality = kind_quality(result, test.y, kinds)
            winner = quality[quality["candidate"] == result.winner.name]
            text = ", ".join(
                f"{k} {v:.3f}"
                for k, v in zip(winner["anomaly_type"], winner["pr_auc"], strict=True)
            )
            console.print(f"{name}: the winner's PR-AUC per kind: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
