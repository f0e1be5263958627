# The user's commands. `make curate` and `make test` set everything up on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LAKE ?= lake
SIM_CONVERSATIONS ?= 5000
SIM_SEED ?= 7
SIM_BAD_RECORDS ?= 12  # malformed records planted so the quarantine has something to show (README)

.PHONY: setup simulate curate sql label releases scrub-eval train-demo gpu-check test test-all test-fast lint bench clean-lake

# The virtual environment, created from the pinned requirements on first use and reused afterwards.
$(INSTALLED): requirements.txt requirements-lock.txt requirements-nodeps.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c requirements-lock.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt  # never lets pip downgrade pandas/numpy
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(INSTALLED)

setup: $(INSTALLED)

simulate: $(INSTALLED)
	$(BIN)/flywheel simulate --num-conversations $(SIM_CONVERSATIONS) --seed $(SIM_SEED) --num-bad-records $(SIM_BAD_RECORDS) --out data/simulated

# Consensus labels are snapshotted from the label store first so the release stage can use them; the
# demo labeling queues are built from the fresh samples afterwards (tokens printed at the end).
curate: simulate
	$(BIN)/flywheel keygen
	$(BIN)/flywheel label snapshot --lake $(LAKE)
	$(BIN)/flywheel curate configs/curate.yaml --lake $(LAKE)
	$(BIN)/flywheel label demo --lake $(LAKE)

sql: $(INSTALLED)
	$(BIN)/flywheel sql --lake $(LAKE)

label: $(INSTALLED)
	$(BIN)/flywheel label serve --lake $(LAKE) --port 8501

releases: $(INSTALLED)
	$(BIN)/flywheel label snapshot --lake $(LAKE)
	$(BIN)/flywheel releases build configs/curate.yaml --lake $(LAKE)

scrub-eval: $(INSTALLED)
	$(BIN)/flywheel eval scrub

# The whole training chain on CPU with a tiny model (SFT, reward, DPO, KTO, generate, score, eval).
train-demo: $(INSTALLED)
	$(BIN)/flywheel train gpu-check --model tiny --workdir out/train-demo

# The same chain on a CUDA machine with a real local model: make gpu-check MODEL=/models/<hf dir>
gpu-check: $(INSTALLED)
	scripts/gpu_check.sh $(MODEL)

test: $(INSTALLED)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not heavy" --durations=25  # two workers (pytest-xdist), a test file on one worker so its fixtures are built once; heavy tests: make test-all

# Everything, the heavy tests too (tests/train/test_signals_sim.py: signal models trained on the session lake;
# six more crash-recovery kill points in tests/lakehouse/test_crash_recovery.py).
test-all: $(INSTALLED)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# The quick loop while editing: everything not marked slow (the full `make test` still runs those in CI).
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

# The house style as checks (pyproject.toml: [tool.ruff], [tool.mypy]); CI runs this before the tests.
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

clean-lake:
	rm -rf $(LAKE)
