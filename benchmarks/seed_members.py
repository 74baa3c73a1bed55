"""Seed 002's SVM and logistic-regression members (issue 22 item 6): do they earn a place?

On a finished demo's train/test sets, one run of the tournament as shipped and one with the
two members added as candidates and as ensemble members; same seed and folds. Prints each
candidate's walk-forward and holdout PR-AUC and fit time, and the ensemble's with and
without them (the baseline is the shipped tournament, measured in the same run).

    FINML_HOME=/tmp/demohome .venv/bin/finml demo
    FINML_HOME=/tmp/demohome .venv/bin/python benchmarks/seed_members.py
"""

from __future__ import annotations

import sys
import time

from _common import demo_sets

ADDED = ("logistic_regression", "svm")


def main(argv: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    from finml.models.ensemble import SoftVotingEnsemble
    from finml.models.tournament import run_tournament

    sets = demo_sets(argv, __doc__.splitlines()[0])
    shipped, train, test = sets.settings, sets.train, sets.test
    console = Console()
    members = shipped.params.get("ensemble", {}).get(
        "members", SoftVotingEnsemble.default_params["members"]
    )
    candidates = [c for c in shipped.candidates if c != "ensemble"]
    extended = shipped.model_copy(
        update={
            "candidates": (*candidates, *ADDED, "ensemble"),
            "params": {
                **shipped.params,
                "ensemble": {**shipped.params.get("ensemble", {}), "members": [*members, *ADDED]},
            },
        }
    )
    console.print(f"train {len(train.frame):,} rows, test {len(test.frame):,}; members {members}")
    runs = {}
    for name, settings in (("shipped", shipped), ("with SVM and LR", extended)):
        started = time.perf_counter()
        runs[name] = run_tournament(train, test, settings)
        console.print(f"{name}: tournament {time.perf_counter() - started:.1f} s")
    table = Table("run", "rank", "candidate", "cv PR-AUC", "holdout PR-AUC", "fit s",
                  title="Seed 002's members against the shipped tournament")  # fmt: skip
    for name, result in runs.items():
        for rank, r in enumerate(result.results, start=1):
            table.add_row(name, str(rank), r.name, f"{r.cv['pr_auc']:.4f}",
                          f"{r.holdout['pr_auc']:.4f}", f"{r.fit_seconds:.1f}")  # fmt: skip
    console.print(table)
    for name, result in runs.items():
        ensemble = next(r for r in result.results if r.name == "ensemble")
        weights = {k: round(v, 3) for k, v in ensemble.params.get("weights", {}).items()}
        console.print(
            f"{name}: ensemble holdout PR-AUC {ensemble.holdout['pr_auc']:.4f}, weights {weights}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
