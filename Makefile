# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Every target installs what it needs first (idempotently) through `deps`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := .fashiontag/.system-deps
NODE_STAMP := node_modules/.installed
ARGS ?=

.PHONY: deps test test-fast lint typecheck unit demo bench bench-loop chaos stack-up stack-down model clean

deps: $(STAMP) $(SYSTEM_STAMP) $(NODE_STAMP)

# chromium: Debian's browser for the browser tests (Playwright drives it; no browser download).
$(SYSTEM_STAMP): scripts/install-system-deps.sh Makefile
	./scripts/install-system-deps.sh chromium
	@mkdir -p $(@D) && touch $@

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Node tools of the local stack (the Firebase Auth emulator), exactly as package-lock.json pins them.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: Node.js 20 or newer is needed" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest $(ARGS)

# Unit, deploy and function-level tests that need no emulators: a minute, not ten.
test-fast: deps
	$(BIN)/pytest -m "not e2e" $(ARGS)

unit: deps
	$(BIN)/pytest tests/unit $(ARGS)

demo: deps
	$(BIN)/fashiontag demo $(ARGS)

bench: deps
	$(BIN)/python scripts/bench.py $(ARGS)

# The learning loop: a 5,000-image model, uploads verified by a simulated manager, retraining.
bench-loop: deps
	$(BIN)/python scripts/bench_loop.py $(ARGS)

# Nothing lost under faults (docs/decisions/0014): 1,000 uploads while on_upload is killed and
# kept down, Firestore frozen and the delivery, bridge and reconcile processes killed; writes bench/chaos.json.
chaos: deps
	$(BIN)/python scripts/chaos.py $(ARGS)

stack-up: deps
	$(BIN)/fashiontag stack up

stack-down: deps
	$(BIN)/fashiontag stack down

# The training run of the shipped category model, v4: four more epochs on v3's weights (kept in
# models/category/v3, itself six epochs on v2's) over the training garments rendered twice, the
# learning rate falling from 0.0005 (about 30 minutes on 2 cores, plus about 12 to render the
# second round into .fashiontag/cache); writes models/category/v4 and its card, the served file
# with its four looks at each photo (docs/decisions/0020). models/category/EXPERIMENTS.md says
# how v2 and v3 were trained.
model: deps
	$(BIN)/fashiontag train category --out models/category/v4 --start-from models/category/v3/model.keras \
		--epochs 4 --learning-rate 0.0005 --render-rounds 2

clean:
	-test -x $(BIN)/fashiontag && $(BIN)/fashiontag stack down
	rm -rf $(VENV) .fashiontag .pytest_cache .mypy_cache .ruff_cache node_modules

# Prints, without running anything, every command a deploy to Google Cloud runs (docs/deploy.md):
#   make deploy-plan PROJECT=my-project REGION=europe-west1 [ARGS="--upload-bucket=..."]
.PHONY: deploy-plan
deploy-plan: deps
	$(BIN)/python scripts/deploy_plan.py --project="$(PROJECT)" --region="$(REGION)" $(ARGS)
