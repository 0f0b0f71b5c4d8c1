# `make test` and `make bench` set everything up themselves (`make install` creates .venv/).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export LTH_DATA ?= data
export LTH_RUNS ?= runs

.PHONY: install test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

test: install
	$(PY) -m pytest -q tests

bench: install
	$(PY) benchmarks/bench.py

clean:
	rm -rf $(VENV)
