# `make figures` (or one target: `make figure4`) runs the experiments a figure needs, only those not
# completed yet, then executes its notebook. PRESET=small (default: CPU, minutes), paper, smoke (CI).
# `make test` and `make bench` set everything up themselves (`make install` creates .venv/).
PYTHON ?= python3.11
PRESET ?= small
VENV := .venv
PY := $(VENV)/bin/python
export LTH_DATA ?= data
export LTH_RUNS ?= runs

ifneq ($(shell $(PYTHON) experiments/sweep.py list $(PRESET) > /dev/null 2>&1 && echo ok),ok)
$(error PRESET: $(shell $(PYTHON) experiments/sweep.py list $(PRESET) 2>&1 | tail -n 1))
endif

ACCURACY_NOTEBOOKS := table2 figure2 figure4 figure8 figure9 figure10 collapse
TICKET_NOTEBOOKS := overlap figure1 figure3 figure5 figure6 figure7
NOTEBOOKS := table1 $(ACCURACY_NOTEBOOKS) $(TICKET_NOTEBOOKS) reinit
FIGS ?= figures/$(PRESET)
STAMPS := $(LTH_RUNS)/done/$(PRESET)
ALL_RUNS := $(addprefix $(STAMPS)/,$(shell $(PYTHON) experiments/sweep.py list $(PRESET)))
MAGNITUDE_RUNS := $(addprefix $(STAMPS)/,$(shell $(PYTHON) experiments/sweep.py list $(PRESET) --metrics magnitude))
TICKET_RUNS := $(addprefix $(STAMPS)/,$(shell $(PYTHON) experiments/sweep.py list $(PRESET) --tickets))
REINITS := $(addprefix $(STAMPS)/reinit_,$(shell $(PYTHON) experiments/sweep.py list $(PRESET) --reinit-seeds))

.PHONY: install test bench runs figures clean $(NOTEBOOKS)

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

test: install
	$(PY) -m pytest -q tests

bench: install
	$(PY) benchmarks/bench.py

# Stops early, in one line, when the preset's data or GPU is missing.
$(STAMPS)/.ready: | install
	$(PY) experiments/sweep.py check $(PRESET)
	@mkdir -p $(@D) && touch $@

# One stamp per run, so that `make -j N` runs independent experiments in parallel.
$(STAMPS)/%: | $(STAMPS)/.ready
	$(PY) experiments/sweep.py run $(PRESET) $*
	@mkdir -p $(@D) && touch $@

# Section 5.1: one partial reinitialisation per seed, from the completed ticket runs.
$(STAMPS)/reinit_%: $(TICKET_RUNS)
	$(PY) experiments/reinit.py with preset=$(PRESET) reinit_seed=$*
	@touch $@

runs: $(ALL_RUNS)

$(NOTEBOOKS): %: $(FIGS)/%.ipynb

$(FIGS)/table1.ipynb: $(MAGNITUDE_RUNS)
$(addprefix $(FIGS)/,$(addsuffix .ipynb,$(ACCURACY_NOTEBOOKS))): $(ALL_RUNS)
$(addprefix $(FIGS)/,$(addsuffix .ipynb,$(TICKET_NOTEBOOKS))): $(TICKET_RUNS) lth/tickets.py
$(FIGS)/reinit.ipynb: $(REINITS) lth/tickets.py
$(FIGS)/%.ipynb: notebooks/%.ipynb lth/analysis.py lth/plots.py | install
	@mkdir -p $(FIGS)
	$(PY) -m papermill --log-level WARNING $< $@ -p preset $(PRESET) -p runs_dir $(LTH_RUNS) -p figures_dir $(FIGS)

figures: $(NOTEBOOKS)

clean:
	rm -rf $(VENV)
