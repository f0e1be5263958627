# The user's commands. `make curate` and `make test` set everything up on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LAKE ?= lake
SIM_CONVERSATIONS ?= 5000
SIM_SEED ?= 7

.PHONY: setup simulate curate sql test bench clean-lake

# The virtual environment, created from the pinned requirements on first use and reused afterwards.
$(INSTALLED): requirements.txt requirements-lock.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c requirements-lock.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(INSTALLED)

setup: $(INSTALLED)

simulate: $(INSTALLED)
	$(BIN)/flywheel simulate --conversations $(SIM_CONVERSATIONS) --seed $(SIM_SEED) --out data/simulated

curate: simulate
	$(BIN)/flywheel keygen
	$(BIN)/flywheel curate configs/curate.yaml --lake $(LAKE)

sql: $(INSTALLED)
	$(BIN)/flywheel sql --lake $(LAKE)

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

clean-lake:
	rm -rf $(LAKE)
