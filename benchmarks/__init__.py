"""Performance benchmarks of the Safe Mobility model (`smo-abm bench`, `make bench`).

benchmarks.suite runs the suite in the parent process and writes results/bench/{bench.json,report.md};
benchmarks.worker is what each fresh child process runs (one measurement per process, so that peak
memory and timings belong to that measurement alone).
"""
