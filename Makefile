# driftloop: `make demo` plays the whole story on the local stack, `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

# setup installs what the stack and the flows run on (requirements.lock); setup-dev adds the test and lint tools.
.PHONY: setup setup-dev demo test test-unit chaos lint typecheck up down status bench lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "driftloop needs $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	touch $(DEV_STAMP)

demo: setup
	$(BIN)/driftloop demo

up: setup
	$(BIN)/driftloop up

down: setup
	$(BIN)/driftloop down

status: setup
	$(BIN)/driftloop status

# Two workers: most of a test waits on servers. The whole-stack tests share one worker (and one stack). The slowest
# thirty tests are listed at the end: the suite is meant to stay under fifteen minutes.
test: setup-dev lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not chaos and not long" --durations=30

# The fault suite and the longest stories: stops, restarts and SIGKILLs the processes of a stack of its own, kills
# the model server and its lander, plays the whole loop through the automations, and every kind of alert (marker
# `long`). Long: `make test` runs only its fast cases (marker `fault`). Each case's row goes into
# bench/results/chaos.json (the README's table).
chaos: setup-dev
	$(BIN)/python -m pytest tests -m "chaos or fault or long" --chaos-results bench/results/chaos.json

test-unit: setup-dev
	$(BIN)/python -m pytest -m "not integration and not stack and not chaos"

lint: setup-dev
	$(BIN)/ruff check flows tasks blocks deployments tests bench
	$(BIN)/ruff format --check flows tasks blocks deployments tests bench
	$(BIN)/lint-imports

typecheck: setup-dev
	$(BIN)/mypy

# The serving benchmark loads both servers with `hey` (the Debian package), installed here where it is missing.
bench: setup
	@command -v hey >/dev/null || (apt-get update -qq && apt-get install -y -qq hey) >/dev/null 2>&1 || \
		{ echo "make bench needs the load generator hey: install the package hey"; exit 1; }
	$(BIN)/python -m bench $(BENCH_ARGS)

# Pin what is installed now: the runtime closure of pyproject's dependencies, and everything else as dev.
lock: setup-dev
	$(BIN)/python -m deployments.lockfiles

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
