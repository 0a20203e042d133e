# Every target creates the virtualenv it needs, so a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run relay test lint types check stress bench compiled-sql clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	touch $(STAMP)

## The app on an embedded default: a local relay, demo traffic, a local replica.
run: $(STAMP)
	$(BIN)/inboop demo

## The relay alone, with the settings from the environment or .env.
relay: $(STAMP)
	$(BIN)/inboop-relay serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

## Everything CI runs: lint, types, the whole test suite.
check: lint types test

## The long fault, load and fuzz runs (each stops by itself within minutes; loopback only).
stress: $(STAMP)
	$(BIN)/python -m pytest -m stress tests/stress -s

bench: $(STAMP)
	$(BIN)/python -m bench

## The statements the inbox's first screen reads, compiled again after a change to them in
## inboop_tui/store/queries.py (tests/test_first_screen.py says when).
compiled-sql: $(STAMP)
	$(BIN)/python -c 'from inboop_tui.store.queries import write_compiled; write_compiled()'
	$(BIN)/ruff format --quiet inboop_tui/store/compiled.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
