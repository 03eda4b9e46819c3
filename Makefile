# The two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JS := tests/e2e/js
HOST ?= 127.0.0.1
PORT ?= 8000
# DSNs are built from the base URL: follow HOST and PORT unless it is set.
SPYGLASS_BASE_URL ?= http://$(HOST):$(PORT)
export SPYGLASS_BASE_URL

.PHONY: run test lint test-sqlite test-postgres install install-test bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml $(wildcard $(JS)/package-lock.json)
	$(BIN)/pip install --quiet -e '.[test]'
	if [ -f $(JS)/package.json ]; then cd $(JS) && npm ci --no-audit --no-fund --loglevel=error; fi
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: migrate, create the first user and project (once), print the DSN, serve.
run: install
	$(BIN)/spyglass migrate --noinput -v0
	$(BIN)/spyglass bootstrap
	$(BIN)/spyglass serve --host $(HOST) --port $(PORT)

## make test: lint, then the whole suite on SQLite and on a throw-away PostgreSQL cluster.
test: lint test-sqlite test-postgres

lint: install-test
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy spyglass tests bench conftest.py

test-sqlite: install-test
	$(BIN)/pytest -q

test-postgres: install-test
	$(BIN)/python tests/pgcluster.py -- $(BIN)/pytest -q

## make bench: the ingest benchmark (wants Debian's wrk; see docs/benchmarks.md).
bench: install-test
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) $(JS)/node_modules
