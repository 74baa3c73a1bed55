"""Market regimes (Normal / Stress / Crisis) as a Markov chain, from bars of any source.

``score`` (risk score per symbol and day) -> ``discretise`` (thresholds) -> ``markov``
(estimation, bootstrap intervals, prediction) -> ``analytics`` (stationary distribution,
spectral gap, sojourn, first passage, forecasts, absorbing variant); ``evaluate`` compares
with known regimes and a Gaussian HMM; ``pyfunc`` logs the model to MLflow.
"""

from finml.regimes.markov import STATES, MarkovChain

__all__ = ["STATES", "MarkovChain"]
