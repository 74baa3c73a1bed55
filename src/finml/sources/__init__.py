"""Market data sources: the simulator with ground truth, live collectors, landing writers."""
