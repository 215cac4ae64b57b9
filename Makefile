# Allmende — the two commands from README.md, and a few helpers.
# Everything installs what it needs: uv (from PyPI, if missing) and the locked dependencies.

SHELL := /bin/bash
PORT ?= 8000
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: run test install browser oidc lint typecheck check bench clean

install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: install  ## serve the embedded profile (SQLite, embedded search, in-process jobs) on 127.0.0.1:$(PORT)
	PORT=$(PORT) $(UV) run allmende serve

browser:  ## Debian's chromium for the browser tests (root with apt only; elsewhere install it yourself)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "make: chromium missing; the browser tests will skip (and fail under CI=true)"

oidc:  ## the OpenID provider of the single sign-on tests (npm's oidc-provider, from its lock file)
	@[ -d tests/support/oidc/node_modules/oidc-provider ] || { command -v npm >/dev/null 2>&1 && \
		npm ci --prefix tests/support/oidc --no-audit --no-fund --silent; } || \
		echo "make: node/npm missing; the single sign-on tests will skip (and fail under CI=true)"

test: install browser oidc  ## the whole suite, against SQLite, PostgreSQL and Redis, and in Chromium
	$(UV) run pytest -n 2

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: install
	$(UV) run mypy allmende marketplace offer_requests knowledge federation notifications identity tests

check: lint typecheck test

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache test-results
