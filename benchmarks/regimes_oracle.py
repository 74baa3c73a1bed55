"""Regime labels from daily bars against the oracle (issue 22 item 2).

Series are drawn from known Markov-switching Gaussian processes (easy, hard, short, long; 2
and 3 regimes). Each day's open/high/low/close come from an intraday random walk with the
day's regime volatility (the Alpha Vantage layout FinML reads with ``finml regimes
--input``). Per method, on each series:

* **agreement**: the share of days whose label equals the hidden regime, under the best
  relabelling, over the whole series (offline labels);
* **held-out next-regime log-likelihood** and **Brier score**: fitted on the first 70 % of
  days, then for each later day the predicted distribution of tomorrow's regime given the
  data up to today (the filtered posterior times the transition matrix), scored against the
  hidden regime. States are matched to the truth by volatility order (0 calmest), as FinML
  names them Normal / Stress / Crisis, never by peeking at the truth.

Methods: the **oracle** (forward-backward with the true parameters, hmmlearn's
``GaussianHMM`` with every parameter set) over the daily return and log range, whose joint
law per regime is estimated from 100,000 days simulated with that regime's parameters (the
ceiling for daily bars), and the same over closes alone (the issue's first oracle);
FinML's **threshold** discretiser (the daily Parkinson risk score cut by k-means, the
baseline ``finml regimes --input`` keeps) and its former comparison **HMM** (hmmlearn, 5
restarts, daily returns, no prior); FinML's **regime HMM** (``finml.regimes.hmm.RegimeHmm``,
issue 22 item 1: sticky Gaussian HMM on the log range, one EM start from the threshold
labels; labels from smoothed posteriors, forecasts from filtered posteriors and the forecast
matrix), the same with the daily return as a second feature, with a 10x stronger prior and
keeping the best-likelihood EM run even when the threshold-started one is within 2 nats;
and statsmodels' **Markov-switching** regression (switching mean and variance). Methods
without a transition model (the threshold labels) forecast tomorrow from the transition
counts of their own training labels. ``--methods`` / ``--scenarios`` select a subset.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, console, parser, progress

logging.getLogger("hmmlearn").setLevel(logging.ERROR)  # "not converging" at each EM wobble
STEPS = 26  # intraday steps per simulated day (15-minute bars of a 6.5-hour session)
SPLIT = 0.7


@dataclass(frozen=True)
class Scenario:
    name: str
    days: int
    transition: tuple[tuple[float, ...], ...]
    means: tuple[float, ...]  # daily log-return mean per regime
    vols: tuple[float, ...]  # daily log-return standard deviation per regime

    @property
    def k(self) -> int:
        return len(self.means)


STICKY3 = ((0.96, 0.03, 0.01), (0.05, 0.90, 0.05), (0.03, 0.07, 0.90))
SCENARIOS = (
    Scenario("easy", 1000, STICKY3, (0.0005, -0.0005, -0.002), (0.008, 0.016, 0.032)),
    Scenario("hard", 1000, STICKY3, (0.0003, 0.0, -0.0005), (0.010, 0.013, 0.017)),
    Scenario("short", 250, STICKY3, (0.0005, -0.0005, -0.002), (0.008, 0.016, 0.032)),
    Scenario("long", 4000, STICKY3, (0.0003, 0.0, -0.0005), (0.010, 0.013, 0.017)),
    Scenario("two-regime", 1000, ((0.97, 0.03), (0.06, 0.94)), (0.0004, -0.001), (0.009, 0.02)),
)


def simulate(s: Scenario, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Daily OHLC bars (one symbol) and the hidden regime of each day."""
    rng = np.random.default_rng(seed)
    A = np.asarray(s.transition)
    states = np.empty(s.days, dtype=np.int64)
    states[0] = rng.choice(s.k, p=_stationary(A))
    for t in range(1, s.days):
        states[t] = rng.choice(s.k, p=A[states[t - 1]])
    means, vols = np.asarray(s.means)[states], np.asarray(s.vols)[states]
    steps = rng.normal((means / STEPS)[:, None], (vols / np.sqrt(STEPS))[:, None], (s.days, STEPS))
    path = np.log(100.0) + np.cumsum(steps.ravel()).reshape(s.days, STEPS)
    opens = np.concatenate(([np.log(100.0)], path[:-1, -1]))
    highs = np.maximum(path.max(axis=1), opens)
    lows = np.minimum(path.min(axis=1), opens)
    dates = pd.bdate_range("2010-01-04", periods=s.days).date
    bars = pd.DataFrame(
        {
            "symbol": "SIM",
            "trade_date": dates,
            "open": np.exp(opens),
            "high": np.exp(highs),
            "low": np.exp(lows),
            "close": np.exp(path[:, -1]),
            "volume": 1_000_000,
        }
    )
    return bars, states


def _stationary(A: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eig(A.T)
    pi = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    return pi / pi.sum()


def agreement(predicted: np.ndarray, truth: np.ndarray, k: int) -> float:
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (predicted, truth), 1)
    best = max(sum(confusion[i, p[i]] for i in range(k)) for p in permutations(range(k)))
    return best / len(truth)


def forecast_scores(next_probs: np.ndarray, truth_next: np.ndarray) -> tuple[float, float]:
    """Mean log-likelihood of the true next regime, and the multi-class Brier score."""
    k = next_probs.shape[1]
    p = np.clip(next_probs, 1e-12, 1.0)
    ll = float(np.mean(np.log(p[np.arange(len(truth_next)), truth_next])))
    brier = float(np.mean(np.sum((next_probs - np.eye(k)[truth_next]) ** 2, axis=1)))
    return ll, brier


def forward_filter(log_b: np.ndarray, A: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Filtered posteriors P(state_t | x_1..t) from per-day emission log-likelihoods."""
    out = np.empty_like(log_b)
    prior = start
    for t in range(len(log_b)):
        weights = np.log(np.clip(prior, 1e-300, None)) + log_b[t]
        weights = np.exp(weights - weights.max())
        out[t] = weights / weights.sum()
        prior = out[t] @ A
    return out


def features(bars: pd.DataFrame, columns: str) -> np.ndarray:
    close = np.log(bars["close"].to_numpy())
    ret = np.diff(close, prepend=np.log(bars["open"].iloc[0]))
    if columns == "returns":
        return ret[:, None]
    log_range = np.log(np.log(bars["high"] / bars["low"]).to_numpy() + 1e-8)
    return np.column_stack([ret, log_range])


# ---- methods: each returns (labels over all days, next-day probabilities on held-out days) --


def oracle(s: Scenario, bars: pd.DataFrame, cut: int):
    """Forward-backward with the true transition matrix and the true Gaussian law of the
    daily return: the best any method can do from closes alone."""
    from hmmlearn.hmm import GaussianHMM

    model = GaussianHMM(n_components=s.k, covariance_type="diag", init_params="", params="")
    model.startprob_ = _stationary(np.asarray(s.transition))
    model.transmat_ = np.asarray(s.transition)
    model.means_ = np.asarray(s.means)[:, None]
    model.covars_ = (np.asarray(s.vols) ** 2)[:, None]
    x = features(bars, "returns")
    labels = model.predict_proba(x).argmax(axis=1)
    return labels, _next(model, x, cut, np.arange(s.k))


def oracle_ohlc(s: Scenario, bars: pd.DataFrame, cut: int):
    """The same with the daily return and log range together: their joint law per regime
    (a bivariate Gaussian fitted to 100,000 days simulated from that regime's true
    parameters), so it also uses what the high and low tell -- the ceiling for daily bars."""
    from hmmlearn.hmm import GaussianHMM

    rng = np.random.default_rng(12345)
    means, covars = [], []
    for mean, vol in zip(s.means, s.vols, strict=True):
        steps = rng.normal(mean / STEPS, vol / np.sqrt(STEPS), (100_000, STEPS))
        path = np.cumsum(steps, axis=1)
        high, low = np.maximum(path.max(axis=1), 0.0), np.minimum(path.min(axis=1), 0.0)
        sample = np.column_stack([path[:, -1], np.log(high - low + 1e-8)])
        means.append(sample.mean(axis=0))
        covars.append(np.cov(sample, rowvar=False))
    model = GaussianHMM(n_components=s.k, covariance_type="full", init_params="", params="")
    model.startprob_ = _stationary(np.asarray(s.transition))
    model.transmat_ = np.asarray(s.transition)
    model.means_ = np.asarray(means)
    model.covars_ = np.asarray(covars)
    x = features(bars, "range")
    labels = model.predict_proba(x).argmax(axis=1)
    return labels, _next(model, x, cut, np.arange(s.k))


def _next(model, x: np.ndarray, cut: int, order: np.ndarray) -> np.ndarray:
    """Tomorrow's regime distribution for each held-out day, states in ``order``."""
    from scipy.stats import multivariate_normal

    cov = np.asarray(model.covars_)
    log_b = np.column_stack(
        [
            multivariate_normal(model.means_[i], np.atleast_2d(cov[i])).logpdf(x)
            for i in range(model.n_components)
        ]
    ).reshape(len(x), -1)
    filtered = forward_filter(log_b, model.transmat_, model.startprob_)
    ahead = filtered @ model.transmat_
    return ahead[cut:-1][:, order]


def _hmm(x_fit: np.ndarray, k: int, restarts: int, seed: int):
    """FinML's former comparison HMM: hmmlearn, no prior, best likelihood of ``restarts``."""
    from hmmlearn.hmm import GaussianHMM

    best, best_score = None, -np.inf
    for attempt in range(restarts):
        model = GaussianHMM(
            n_components=k, covariance_type="diag", n_iter=300, random_state=seed + attempt
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(x_fit)
            score = model.score(x_fit)
        except ValueError:  # a start whose EM collapsed a state (NaN parameters)
            continue
        if np.isfinite(score) and score > best_score:
            best, best_score = model, score
    if best is None:
        raise RuntimeError(f"hmm: every one of {restarts} EM starts collapsed")
    return best


def _vol_order(model) -> np.ndarray:
    spread = np.asarray(model.covars_).reshape(model.n_components, -1)[:, 0]
    return np.argsort(spread)  # position i: the fitted state that is the i-th calmest


def hmm_returns(s: Scenario, bars: pd.DataFrame, cut: int):
    x = features(bars, "returns")
    labels = _hmm(x, s.k, 5, 0).predict(x)
    fitted = _hmm(x[:cut], s.k, 5, 0)
    return labels, _next(fitted, x, cut, _vol_order(fitted))


def regime_hmm(names: tuple[str, ...] = ("log_range",), **options: float):
    """FinML's regime model (``finml.regimes.hmm.RegimeHmm``) as ``finml regimes`` fits it:
    one EM start from the threshold labels; labels from the smoothed posteriors of the
    whole series, forecasts from the filtered posteriors under a fit on the first 70 %."""
    from finml.regimes.hmm import RegimeHmm
    from finml.regimes.hmm_features import daily_features

    def run(s: Scenario, bars: pd.DataFrame, cut: int):
        f = daily_features(bars, names)
        starts = _threshold_labels(bars)
        whole = RegimeHmm.fit(f.x, f.lengths, k=s.k, features=names, start_labels=starts,
                              **options)  # fmt: skip
        train = RegimeHmm.fit(f.x[:cut], k=s.k, features=names, start_labels=starts[:cut],
                              **options)  # fmt: skip
        return whole.labels(f.x, f.lengths), train.next_regime(train.filtered(f.x))[cut:-1]

    return run


def _threshold_labels(bars: pd.DataFrame) -> np.ndarray:
    from finml.regimes.discretise import assign, fit_thresholds
    from finml.regimes.score import daily_risk

    scores = daily_risk(bars)["risk_score"].to_numpy()
    return assign(scores, fit_thresholds(scores, "kmeans"))


def markov_switching(s: Scenario, bars: pd.DataFrame, cut: int):
    import statsmodels.api as sm

    x = features(bars, "returns")[:, 0] * 100.0  # percent: the optimiser's scale

    def fit(series: np.ndarray):
        model = sm.tsa.MarkovRegression(series, k_regimes=s.k, trend="c", switching_variance=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model, model.fit(search_reps=10, disp=False)

    _, result = fit(x)
    labels = np.asarray(result.smoothed_marginal_probabilities).argmax(axis=1)
    model, train = fit(x[:cut])
    # filter the whole series with the training parameters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = sm.tsa.MarkovRegression(x, k_regimes=s.k, trend="c", switching_variance=True)
        filtered = np.asarray(whole.filter(train.params).filtered_marginal_probabilities)
    # statsmodels' transition matrix is column-stochastic: P[i, j] = P(to i | from j)
    P = np.asarray(model.regime_transition_matrix(train.params))[:, :, 0].T
    names = list(model.param_names)
    variances = np.asarray([train.params[names.index(f"sigma2[{i}]")] for i in range(s.k)])
    order = np.argsort(variances)
    return labels, (filtered @ P)[cut:-1][:, order]


def threshold(s: Scenario, bars: pd.DataFrame, cut: int):
    from finml.regimes.discretise import assign, fit_thresholds
    from finml.regimes.score import daily_risk

    days = daily_risk(bars)
    scores = days["risk_score"].to_numpy()
    labels = assign(scores, fit_thresholds(scores, "kmeans"))
    train_labels = assign(scores[:cut], fit_thresholds(scores[:cut], "kmeans"))
    if s.k == 2:  # the discretiser has three states: Stress and Crisis are one regime here
        labels, train_labels = np.minimum(labels, 1), np.minimum(train_labels, 1)
    counts = np.ones((s.k, s.k))
    np.add.at(counts, (train_labels[:-1], train_labels[1:]), 1)
    A = counts / counts.sum(axis=1, keepdims=True)
    held = assign(scores, fit_thresholds(scores[:cut], "kmeans"))
    held = np.minimum(held, s.k - 1)
    return labels, A[held[cut:-1]]


METHODS = {
    "oracle": oracle_ohlc,
    "oracle, closes only": oracle,
    "threshold (FinML)": threshold,
    "hmm returns (FinML's former comparison)": hmm_returns,
    "regime HMM (FinML)": regime_hmm(),
    "regime HMM, return + range": regime_hmm(("log_return", "log_range")),
    "regime HMM, prior 500": regime_hmm(sticky=500.0),
    "regime HMM, best likelihood only": regime_hmm(tie_nats=0.0),
    "markov-switching (statsmodels)": markov_switching,
}


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0], "python benchmarks/regimes_oracle.py --seeds 3", 0)
    p.add_argument("--seeds", type=int, default=3, help="series per scenario (default 3)")
    p.add_argument(
        "--methods",
        nargs="*",
        default=None,
        help="only the methods whose name contains one of these words (the oracle always "
        "runs); e.g. --methods 'regime HMM' threshold for a quick run",
    )
    p.add_argument("--scenarios", nargs="*", default=None, help="only these scenarios")
    p.add_argument("--first-seed", type=int, default=0, help="seed of the first series (default 0)")
    args = p.parse_args(argv)
    methods = {
        name: fn for name, fn in METHODS.items()
        if name == "oracle" or not args.methods or any(w in name for w in args.methods)
    }  # fmt: skip
    scenarios = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]
    rows = []
    with progress() as bar:
        task = bar.add_task("regimes", total=len(scenarios) * args.seeds * len(methods))
        for s in scenarios:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                bars, truth = simulate(s, seed)
                cut = int(len(bars) * SPLIT)
                for name, method in methods.items():
                    bar.update(task, description=f"{s.name} seed {seed}: {name}")
                    started = time.perf_counter()
                    labels, ahead = method(s, bars, cut)
                    seconds = time.perf_counter() - started
                    ll, brier = forecast_scores(ahead, truth[cut + 1 :])
                    rows.append(
                        {
                            "scenario": s.name,
                            "seed": seed,
                            "method": name,
                            "agreement": agreement(np.asarray(labels), truth, s.k),
                            "next_ll": ll,
                            "brier": brier,
                            "seconds": seconds,
                        }
                    )
                    bar.advance(task)
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["scenario", "method"], sort=False)[
        ["agreement", "next_ll", "brier", "seconds"]
    ].mean()
    oracle_agreement = summary.xs("oracle", level="method")["agreement"]
    summary["gap"] = (
        summary["agreement"]
        - oracle_agreement.reindex(summary.index.get_level_values("scenario")).to_numpy()
    )
    from rich.table import Table

    table = Table(
        "scenario", "method", "agreement", "vs oracle", "next-regime LL", "Brier", "s",
        title=f"Regimes vs the oracle (mean of {args.seeds} series per scenario)",
    )  # fmt: skip
    for (scenario, method), r in summary.iterrows():
        table.add_row(
            scenario, method, f"{r.agreement:.3f}", f"{r.gap:+.3f}", f"{r.next_ll:.3f}",
            f"{r.brier:.3f}", f"{r.seconds:.2f}",
        )  # fmt: skip
    console.print(table)
    if "hard" in summary.index.get_level_values("scenario"):
        hard = summary.xs("hard", level="scenario")
        best = hard.drop(index=["oracle", "oracle, closes only"], errors="ignore")["gap"].max()
        console.print(f"hard case, best method vs the oracle: {best:+.3f} (aim: within -0.030)")
    out = args.out or OUT / "regimes_oracle.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_json(out, orient="records", indent=1)
    console.print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
