"""Calibration targets and their comparison with model output (issue 4 adds the Bayesian fit)."""
