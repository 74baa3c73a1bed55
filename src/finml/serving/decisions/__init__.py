"""Real-time decisions on scored trades: a typed policy, the risk manager's per-account
state and the decision engine (see :mod:`finml.serving.decisions.engine`)."""

from finml.serving.decisions.engine import Action, Decision, DecisionEngine, Signal
from finml.serving.decisions.policy import DecisionPolicy, RiskWeights

__all__ = ["Action", "Decision", "DecisionEngine", "DecisionPolicy", "RiskWeights", "Signal"]
