"""Policy experiments: experiment files (a baseline and variants), their ensembles on Dask, effects on
common random numbers, reports, and global sensitivity analysis (experiments/sensitivity.py)."""
