# The two commands of the README: `make serve` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install serve test test-postgres lint bench check-wheel check-kit restore-drill clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (Spyne 2.14 does not import on 3.12+); set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## Run the gateway with the sandbox: SQLite in var/, sandbox data and users, sandbox population register.
serve: $(STAMP)
	$(BIN)/nvs-gateway serve --sandbox

## Run the test suite (PostgreSQL runs too when NVS_TEST_DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	NVS_TEST_DATABASE_URL=$${NVS_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest $(PYTEST_ARGS)

## The code-health gates of CI: ruff (lint and format) and mypy (strict for gateway/domain), as pinned in the test extras.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The request-path benchmark (bench/request_path.py; README "Performance"): about half an hour.
## PostgreSQL at NVS_BENCH_DATABASE_URL (default: the local server of test-postgres); BENCH_ARGS for more options.
bench: $(STAMP)
	NVS_BENCH_DATABASE_URL=$${NVS_BENCH_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/python -m bench.request_path $(BENCH_ARGS)

## The wheel builds, installs into a clean venv and serves (deploy/check-wheel.sh; about two minutes).
check-wheel: $(STAMP)
	deploy/check-wheel.sh

## What this machine can check of deploy/: nginx -t and nginx in front of a gateway, systemd-analyze, compose.
check-kit: $(STAMP)
	deploy/check-kit.sh

## The restore drill of docs/operations.md on the local PostgreSQL (PGHOST, PGUSER; its own databases, dropped).
restore-drill: $(STAMP)
	$(BIN)/python deploy/restore_drill.py

clean:
	rm -rf $(VENV) var .pytest_cache
