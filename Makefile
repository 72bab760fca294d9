# The two commands of the README: `make run` (baseline into results/baseline/) and `make test`.
# `make dashboard` serves the dashboard; `make test-browser` tests it in Debian's Chromium (installed if missing).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-slow test-browser dashboard bench bench-versus clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/smo-abm run experiments/baseline.toml --out results/baseline

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# Debian's chromium (Playwright drives it; its own browser download cannot reach this network). Needs root or sudo.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

test-browser: $(STAMP) $(CHROMIUM)
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -q -m browser

dashboard: $(STAMP)
	$(BIN)/smo-abm dashboard

bench: $(STAMP)
	$(BIN)/smo-abm bench

# this tree's throughput at one million agents against the code before issue 16, side by side (benchmarks/versus.py)
BENCH_REF ?= 8a8948f
bench-versus: $(STAMP)
	$(BIN)/smo-abm bench --versus $(BENCH_REF)

clean:
	rm -rf $(VENV) results/baseline
