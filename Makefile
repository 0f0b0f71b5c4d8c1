# `make figures` (or one target: `make figure4`) runs the experiments a figure needs, only those not
# completed yet, then executes its notebook. PRESET=small (default: CPU, minutes), paper, smoke (CI),
# rehearsal (the paper preset's path on tiny synthetic data). LAUNCHER=slurm submits the runs to Slurm.
# `make test` and `make bench` set everything up themselves (`make install` creates .venv/).
PYTHON ?= python3.11
PRESET ?= small
# local (make -j N runs N at once) or slurm (README: "Running on a Slurm cluster")
LAUNCHER ?= local
VENV := .venv
PY := $(VENV)/bin/python
export LTH_DATA ?= data
export LTH_RUNS ?= runs
# A run uses one CPU thread (bitwise the same result however many cores a machine has; lth/training.py):
# make runs as many at once as there are cores. JOBS=1 runs one at a time.
JOBS ?= $(shell nproc)
MAKEFLAGS += --jobs=$(JOBS) --output-sync=line

# The preset's runs, listed once with the system Python (lth/presets.py and lth/runs.py need nothing installed):
# each run id tagged with each group it is in (run:<id>, magnitude:<id>, ticket:<id>, reinit:<id>).
SWEEP := $(PYTHON) -m experiments.sweep
RUN_LIST := $(shell $(SWEEP) list $(PRESET) --tagged 2>/dev/null)
ifneq ($(.SHELLSTATUS),0)
$(error PRESET: $(shell $(SWEEP) list $(PRESET) 2>&1 | tail -n 1))
endif

ACCURACY_NOTEBOOKS := table2 figure2 figure4 figure8 figure9 figure10 collapse
TICKET_NOTEBOOKS := overlap figure1 figure3 figure5 figure6 figure7
# reinit first: make -j then starts with its runs, the longest chain (Section 5's runs, then the reinitialisations).
NOTEBOOKS := reinit table1 $(ACCURACY_NOTEBOOKS) $(TICKET_NOTEBOOKS)
FIGS ?= figures/$(PRESET)
# A run is done when its folder, named by its identity (lth/runs.py), holds `completed`: deleting the
# folder or changing a preset's values (which changes the ids) makes make run it again.
completed = $(addprefix $(LTH_RUNS)/,$(addsuffix /completed,$(patsubst $(1):%,%,$(filter $(1):%,$(RUN_LIST)))))
ALL_RUNS := $(call completed,run)
MAGNITUDE_RUNS := $(call completed,magnitude)
TICKET_RUNS := $(call completed,ticket)
REINITS := $(call completed,reinit)
CHECKED := $(LTH_RUNS)/.checked-$(PRESET)

.PHONY: install test bench runs figures clean $(NOTEBOOKS)
ifneq ($(filter-out local slurm,$(LAUNCHER)),)
$(error LAUNCHER=$(LAUNCHER) is not valid; valid: local, slurm)
endif

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: install
	$(PY) -m pytest -q tests

bench: install
	$(PY) benchmarks/bench.py

# Stops early, in one line, on an invalid value in the preset or when its data or GPU is missing.
$(CHECKED): lth/presets.py | install
	$(PY) -m experiments.sweep check $(PRESET)
	@mkdir -p $(@D) && touch $@

# Slurm options for LAUNCHER=slurm as make variables (PARTITION=gpu ACCOUNT=... QOS=... CONSTRAINT=... TIME=1-00:00:00),
# passed on as Slurm's own SBATCH_PARTITION, SBATCH_ACCOUNT, ..., SBATCH_TIMELIMIT (which also work set directly).
$(foreach v,PARTITION ACCOUNT QOS CONSTRAINT,$(if $($(v)),$(eval export SBATCH_$(v) := $($(v)))))
$(if $(TIME),$(eval export SBATCH_TIMELIMIT := $(TIME)))

ifeq ($(LAUNCHER),slurm)
# Submits every missing run to Slurm (not those queued or running), then stops: a figure is rendered by the
# same make command once `python -m experiments.sweep status $(PRESET)` shows every run done.
runs: | $(CHECKED)
	$(PY) -m experiments.sweep submit $(PRESET)
$(LTH_RUNS)/%/completed: | $(CHECKED)
	@$(PY) -m experiments.sweep submit $(PRESET) --incomplete-fails
else
# One target per run, so that `make -j N` runs independent experiments in parallel.
$(LTH_RUNS)/%/completed: | $(CHECKED)
	$(PY) -m experiments.sweep run $(PRESET) $*

# Section 5.1: one partial reinitialisation per seed, from the completed ticket runs.
$(REINITS): $(TICKET_RUNS)

runs: $(ALL_RUNS) $(REINITS)
endif

$(NOTEBOOKS): %: $(FIGS)/%.ipynb

# A notebook depends on what it reads: its runs, what it reads from the preset besides them (a stamp rewritten
# only when that changes: `sweep inputs`), and the library code it calls.
$(FIGS)/.inputs-%: FORCE
	@mkdir -p $(@D) && $(SWEEP) inputs $(PRESET) $* > $@.$$$$ && (cmp -s $@.$$$$ $@ && rm $@.$$$$ || mv $@.$$$$ $@)
FORCE:

# Figures 1, 5 and 6 share one table of every kept connection's history: computed once per sweep.
CONNECTIONS := $(LTH_RUNS)/tables/$(PRESET)-connections.pkl
$(CONNECTIONS): $(TICKET_RUNS) $(FIGS)/.inputs-tickets lth/tickets.py lth/figures.py | install
	$(PY) -m experiments.sweep tables $(PRESET)

$(FIGS)/table1.ipynb: $(MAGNITUDE_RUNS) $(FIGS)/.inputs-runs
$(addprefix $(FIGS)/,$(addsuffix .ipynb,$(ACCURACY_NOTEBOOKS))): $(ALL_RUNS) $(FIGS)/.inputs-runs
$(addprefix $(FIGS)/,$(addsuffix .ipynb,$(TICKET_NOTEBOOKS))): $(TICKET_RUNS) $(FIGS)/.inputs-tickets lth/tickets.py
$(FIGS)/figure1.ipynb $(FIGS)/figure5.ipynb $(FIGS)/figure6.ipynb: $(CONNECTIONS)
$(FIGS)/reinit.ipynb: $(REINITS) $(FIGS)/.inputs-tickets lth/tickets.py
$(FIGS)/%.ipynb: notebooks/%.ipynb lth/figures.py lth/analysis.py lth/plots.py | install
	@mkdir -p $(FIGS)
	@# A notebook that fails is removed: nothing is left that looks rendered (make renders it again next time).
	$(PY) -m papermill --log-level WARNING $< $@ -p preset $(PRESET) -p runs_dir $(LTH_RUNS) -p figures_dir $(FIGS) \
		|| { rm -f $@; exit 1; }

figures: $(NOTEBOOKS)

clean:
	rm -rf $(VENV)
