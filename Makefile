# certmon — the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PEERS_VENV ?= .venv-peers
UV_VERSION := 0.13.8
export CERTMON_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test install system-deps oidc-provider lint typecheck pytest bench bench-quick bench-scale bench-peers clean lock

## run: install, migrate, load the real registry + demo scenario, serve on http://127.0.0.1:8000
run: install
	CERTMON_DEMO=$${CERTMON_DEMO:-1} $(BIN)/certmon serve

## test: the whole suite as CI runs it (lint, types, tests on PostgreSQL, Redis, Celery, SMTP, TAXII, Chromium)
test: install system-deps oidc-provider
	$(MAKE) --no-print-directory lint typecheck pytest

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

## system-deps: Debian packages the tests use (headless Chromium for the dashboard, pdftotext for reports), installed when missing
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## oidc-provider: the OpenID Connect provider the sign-in tests start (Node.js oidc-provider, from its lock file)
oidc-provider: tests/oidc_provider/node_modules/.package-lock.json

tests/oidc_provider/node_modules/.package-lock.json: tests/oidc_provider/package.json tests/oidc_provider/package-lock.json
	@if command -v npm >/dev/null; then \
	  cd tests/oidc_provider && npm ci --no-audit --no-fund --loglevel=error; \
	else \
	  echo "npm not found: the OpenID Connect sign-in tests will be skipped (install Node.js 20 to run them)"; \
	fi

lint: install
	$(BIN)/ruff check certmon workers feeds dashboards tests bench

typecheck: install
	$(BIN)/mypy certmon workers feeds dashboards

pytest: install
	$(BIN)/python -m pytest -p no:randomly $(PYTEST_ARGS)

## bench: every benchmark, each printing ratios against a baseline measured in the same run
bench: install
	$(BIN)/python bench/run_all.py

bench-quick: install
	$(BIN)/python bench/run_all.py --quick

## bench-scale: 1M indicators, 400 organisations, two workers, 20 clients (PostgreSQL + Redis; not in CI, ~10 min)
bench-scale: install
	$(BIN)/python bench/bench_scale.py

## bench-peers: the same abuse.ch files through IntelMQ's parser bots (own virtualenv, from PyPI) and certmon (not in CI, ~4 min)
bench-peers: install $(PEERS_VENV)/.installed
	$(BIN)/python bench/bench_peers.py --peers-python $(PEERS_VENV)/bin/python $(BENCH_ARGS)

$(PEERS_VENV)/.installed: bench/requirements-peers.txt
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements-peers.txt
	@touch $@

## lock: re-resolve requirements.lock after changing dependencies in pyproject.toml
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock -q

clean:
	rm -rf $(VENV) $(PEERS_VENV) build *.egg-info .mypy_cache .ruff_cache
