# Two commands work on a fresh machine: `make run` and `make test`.
# Each bootstraps .venv from nothing (Python >= 3.11) and reinstalls when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint typecheck imports unit bench clean assets

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "civicstack needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Every service on http://127.0.0.1:8000 with the demo world; `civic demo` walks it from another
# terminal (`civic demo --local` tells the same story in one process, no server needed).
run: $(STAMP)
	$(BIN)/civic up

# Build-time JavaScript tooling (package.json + package-lock.json): GOV.UK Frontend and Sass for
# `make assets`, axe-core for the browser tests. A user running civicstack needs none of it.
NODE_STAMP := node_modules/.installed
STATIC     := src/civicstack/web/static

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

# GOV.UK Frontend compiled with the neutral theme (assets/civic.scss: system fonts, no crown),
# plus its JavaScript and jsQR (the wallet's camera scanning), into the package
# (static/THIRD-PARTY.txt carries their notices); the results are committed and shipped.
assets: $(NODE_STAMP)
	node_modules/.bin/sass --no-source-map --style=compressed --quiet-deps --load-path=node_modules \
		assets/civic.scss $(STATIC)/civic.css
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js $(STATIC)/govuk-frontend.min.js
	cp node_modules/jsqr/dist/jsQR.js $(STATIC)/jsqr.js

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The layering contracts in pyproject.toml ([tool.importlinter]): imports go down only.
imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -n 2

# The edit loop: lint, types, layering and every test not marked `slow` (end-to-end runs of
# `civic up`, schemathesis, the full GOV.UK archive).
check: lint typecheck imports $(NODE_STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow"

# Everything, slow tests included: what CI runs.
test: lint typecheck imports unit

bench: $(STAMP)
	for f in bench/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
