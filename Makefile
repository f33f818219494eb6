# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Every target installs what it needs first (idempotently) through `deps`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := .fashiontag/.system-deps
ARGS ?=

.PHONY: deps test lint typecheck unit demo bench stack-up stack-down model clean

deps: $(STAMP) $(SYSTEM_STAMP)

$(SYSTEM_STAMP): scripts/install-system-deps.sh
	./scripts/install-system-deps.sh
	@mkdir -p $(@D) && touch $@

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

lint: deps
	$(BIN)/ruff check .

typecheck: deps
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest $(ARGS)

unit: deps
	$(BIN)/pytest tests/unit $(ARGS)

demo: deps
	$(BIN)/fashiontag demo $(ARGS)

bench: deps
	$(BIN)/python scripts/bench.py $(ARGS)

stack-up: deps
	$(BIN)/fashiontag stack up

stack-down: deps
	$(BIN)/fashiontag stack down

# The full baseline training run (about half an hour on 2 cores); writes models/category/v1.
model: deps
	$(BIN)/fashiontag train category --out models/category/v1

clean:
	-test -x $(BIN)/fashiontag && $(BIN)/fashiontag stack down
	rm -rf $(VENV) .fashiontag .pytest_cache .mypy_cache .ruff_cache
