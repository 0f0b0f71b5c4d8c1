# `make figures` (or one target: `make figure4`) runs the experiments a figure needs, only those not completed
# yet, then executes its notebook. PRESET=small (default), paper, smoke (CI) or rehearsal; LAUNCHER=slurm submits
# the runs to Slurm. Every variable is in docs/reproducing.md. `make install` creates .venv/.
PYTHON ?= python3.11
PRESET ?= small
LAUNCHER ?= local
VENV := .venv
PY := $(VENV)/bin/python
export LTH_DATA ?= data
export LTH_RUNS ?= runs
# A run uses one CPU thread (lth/training.py): make runs as many at once as there are cores.
JOBS ?= $(shell nproc)
MAKEFLAGS += --jobs=$(JOBS) --output-sync=line
ifneq ($(filter-out local slurm,$(LAUNCHER)),)
$(error LAUNCHER=$(LAUNCHER) is not valid; valid: local, slurm)
endif
ifneq ($(filter-out all,$(VERIFY)),)
$(error VERIFY=$(VERIFY) is not valid; valid: all (every run), or unset (a sample))
endif

# The preset's runs, listed once with the system Python (nothing installed yet), each id tagged with its group
# (lth.runs.groups: run:<id>, ticket:<id>, ...). A run is done when its folder, named by its identity, holds
# `completed`. $(shell) does not pass make's exports on (make 4.3): the variables that name runs go with it.
$(if $(METRICS),$(eval export LTH_METRICS := $(METRICS)))
SWEEP := LTH_METRICS='$(LTH_METRICS)' PYTHONPATH='$(PYTHONPATH)' $(PYTHON) -m experiments.sweep
RUN_LIST := $(shell $(SWEEP) list $(PRESET) --tagged 2>/dev/null)
ifneq ($(.SHELLSTATUS),0)
$(error PRESET: $(shell $(SWEEP) list $(PRESET) 2>&1 | tail -n 1))
endif
completed = $(patsubst $(1):%,$(LTH_RUNS)/%/completed,$(filter $(1):%,$(RUN_LIST)))
ALL_RUNS := $(call completed,run)
TICKET_RUNS := $(call completed,ticket)
REINITS := $(call completed,reinit)
EXTRA_RUNS := $(call completed,extra)
REGIME_RUNS := $(call completed,regime)
CHECKED := $(LTH_RUNS)/.checked-$(PRESET)

ACCURACY_NOTEBOOKS := table2 figure2 figure4 figure8 figure9 figure10 collapse
TICKET_NOTEBOOKS := overlap figure1 figure3 figure5 figure6 figure7
# reinit first: make -j then starts with its runs, the longest chain (Section 5's runs, then the reinitialisations).
NOTEBOOKS := reinit table1 $(ACCURACY_NOTEBOOKS) $(TICKET_NOTEBOOKS) claims glance extra
FIGS ?= figures/$(PRESET)
.PHONY: install test check docs bench runs figures verify clean regime no-regime FORCE $(NOTEBOOKS)

install: $(VENV)/.installed
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: install
	$(PY) -m pytest -q tests

# The fast tier: the method, without the tests that build sweeps or run make or Slurm (tests/conftest.py).
check: install
	$(PY) -m pytest -q -m "not slow" tests

bench: install
	$(PY) benchmarks/bench.py

# One line, before any run, on an invalid value in the preset or when its data or GPU is missing.
$(CHECKED): lth/presets.py $(if $(METRICS),FORCE) | install
	$(PY) -m experiments.sweep check $(PRESET)
	@mkdir -p $(@D) && touch $@

# Slurm's options (PARTITION=gpu ... TIME=1-00:00:00) go on as its own SBATCH_PARTITION, ..., SBATCH_TIMELIMIT; a
# job's resources instead of lth/presets.py's RESOURCES (MEM=16G CPUS=4 GPUS=1 GRES=... MAX_JOBS=8) as LTH_MEM, ...
$(foreach v,PARTITION ACCOUNT QOS CONSTRAINT,$(if $($(v)),$(eval export SBATCH_$(v) := $($(v)))))
$(if $(TIME),$(eval export SBATCH_TIMELIMIT := $(TIME)))
$(foreach v,MEM CPUS GPUS GRES MAX_JOBS,$(if $($(v)),$(eval export LTH_$(v) := $($(v)))))

# LAUNCHER=slurm submits every missing run, then stops: the same make command renders once they are done. Locally,
# one target per run, so that `make -j N` runs independent runs in parallel.
ifeq ($(LAUNCHER),slurm)
runs: | $(CHECKED)
	$(PY) -m experiments.sweep submit $(PRESET)
$(LTH_RUNS)/%/completed: | $(CHECKED)
	@$(PY) -m experiments.sweep submit $(PRESET) --incomplete-fails
else
$(LTH_RUNS)/%/completed: | $(CHECKED)
	$(PY) -m experiments.sweep run $(PRESET) $*
$(REINITS): $(TICKET_RUNS)
runs: $(ALL_RUNS) $(EXTRA_RUNS) $(REINITS)
endif

# A notebook depends on its runs, the preset and the library code it calls. Figures 1, 5 and 6 share one table of
# every kept connection's history, computed once.
$(NOTEBOOKS): %: $(FIGS)/%.ipynb
CONNECTIONS := $(LTH_RUNS)/tables/$(PRESET)-connections.pkl
REPORT := $(wildcard lth/report/*.py)
$(CONNECTIONS): $(TICKET_RUNS) lth/presets.py lth/tickets.py lth/report/section5.py lth/report/figures.py | install
	$(PY) -m experiments.sweep tables $(PRESET)
$(FIGS)/table1.ipynb: $(call completed,magnitude)
$(addprefix $(FIGS)/,$(addsuffix .ipynb,$(ACCURACY_NOTEBOOKS))): $(ALL_RUNS)
$(addprefix $(FIGS)/,$(addsuffix .ipynb,$(TICKET_NOTEBOOKS))): $(TICKET_RUNS) lth/tickets.py
$(FIGS)/figure1.ipynb $(FIGS)/figure5.ipynb $(FIGS)/figure6.ipynb: $(CONNECTIONS)
$(FIGS)/reinit.ipynb: $(REINITS) lth/tickets.py
$(FIGS)/claims.ipynb: $(ALL_RUNS) $(REINITS) $(CONNECTIONS) lth/tickets.py
# The README's figure: the paper's gaps beside ours (claims.effects), every claim's verdict (claims.evaluate).
$(FIGS)/glance.ipynb: $(ALL_RUNS) $(REINITS) $(CONNECTIONS) lth/tickets.py
$(FIGS)/extra.ipynb: $(call completed,magnitude) $(EXTRA_RUNS)
# The regime study (lth/report/study.py), not part of `make figures`: its arms' runs, then its notebook.
regime: $(FIGS)/regime.ipynb
$(FIGS)/regime.ipynb: $(REGIME_RUNS) lth/regime.py | $(if $(REGIME_RUNS),,no-regime)
no-regime:
	@echo "PRESET=$(PRESET) has no regime study (a preset's regime, lth/presets.py); presets with one: small, smoke" >&2
	@exit 1
$(FIGS)/%.ipynb: notebooks/%.ipynb lth/presets.py $(REPORT) | install
	@mkdir -p $(FIGS)
	@# A notebook that fails is removed: nothing is left that looks rendered.
	$(PY) -m papermill --log-level WARNING $< $@ -p preset $(PRESET) -p runs_dir $(LTH_RUNS) -p figures_dir $(FIGS) \
		|| { rm -f $@; exit 1; }

# Every LTR run's tickets' digests, committed with the figures; `make verify` reruns a sample (VERIFY=all: every run)
# and compares them.
$(FIGS)/digests.csv: $(ALL_RUNS) $(TICKET_RUNS) $(EXTRA_RUNS) lth/tickets.py | install
	@mkdir -p $(FIGS)
	$(PY) -m experiments.sweep digests $(PRESET) $@
verify: | $(CHECKED)
	$(PY) -m experiments.sweep verify $(PRESET) $(FIGS)/digests.csv $(if $(filter all,$(VERIFY)),--all)

figures: $(NOTEBOOKS) $(FIGS)/digests.csv

# Every generated block of README.md and docs/ (lth/report/docs.py), the measured ones timed here; tests/test_docs.py
# fails where one is stale.
docs: install
	$(PY) -m lth.report.docs

clean:
	rm -rf $(VENV)
