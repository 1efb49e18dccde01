# scrapeguard — `make run` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.DEFAULT_GOAL := help
.PHONY: help install browser gateways run test stress chaos bench lint lock format clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# the install compiles the pure core (setup.py, stream/core/compiled.py): again when a
# source of it changes, or the extensions would run the old code
$(STAMP): pyproject.toml setup.py $(wildcard stream/core/*.py models/*.py)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[broker,reports,test]'
	@# a failed mypyc build falls back to pure Python silently (pip hides build output): say which
	@$(BIN)/python -c 'from stream.core.compiled import summary; print("scrapeguard core:", summary(), "(pip install -v shows why a build fell back)")'
	touch $(STAMP)

install: $(STAMP) ## Create .venv, install scrapeguard (core compiled) with the broker, reports and test extras

run: $(STAMP) ## Embedded broker + worker + demo traffic, live decisions (ARGS="--duration 60")
	$(BIN)/scrapeguard run $(ARGS)

browser: ## Debian's chromium for the dashboard test (apt; sudo when not root)
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

gateways: ## Debian's nginx and crowdsec-custom-bouncer for the gateway tests (apt; no service is started)
	@{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } && command -v crowdsec-custom-bouncer >/dev/null 2>&1 || { \
	  SUDO=; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update -qq && $$SUDO env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx crowdsec-custom-bouncer; }

test: $(STAMP) browser gateways ## All tests: unit, model contract, end to end (embedded broker, Chromium, nginx)
	$(BIN)/pytest $(ARGS)

stress: $(STAMP) ## Persona mix end to end on a private embedded broker; prints the evaluation
	$(BIN)/scrapeguard stress $(ARGS)

chaos: $(STAMP) ## 20 worker crashes, 2→1→2 workers, 100k bad messages; audits every event
	$(BIN)/scrapeguard chaos $(ARGS)

bench: $(STAMP) ## Throughput, latency, memory vs a naive Faust build -> bench-results/
	$(BIN)/scrapeguard bench $(ARGS)

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check stream models tests
	$(BIN)/mypy

lock: $(STAMP) ## Re-pin the server image's dependencies with hashes (deploy/requirements.lock)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" \
	  --output-file deploy/requirements.lock

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix stream models tests

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .scrapeguard stress-results chaos-results bench-results build
	find stream models -name '*.so' -delete; rm -f *__mypyc*.so
