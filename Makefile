# Convene: the two commands are `make run` and `make test`; everything else supports them.
# Every tool is installed from the project's own files: uv (PyPI), the Kafka jars (Maven
# Central through mvn), FerretDB (Go module proxy), PostgreSQL (Debian's package, as root),
# the AsyncAPI parser (npm registry).

SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
export CONVENE_CACHE_DIR ?= $(HOME)/.cache/convene
UV_HOME := $(CONVENE_CACHE_DIR)/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
PYTHON_FOR_UV := $(shell command -v python3.11 || command -v python3)
RUN := $(UV) run --frozen --no-sync
PYTEST := $(RUN) pytest -p no:cacheprovider
INFRA := $(RUN) python -m infra

.PHONY: help install tools run test test-unit test-contract test-images test-integration test-integration-run lint \
        infra-up infra-down infra-status clean bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	@echo "install: uv $(UV_VERSION) into $(UV_HOME)"
	@$(PYTHON_FOR_UV) -m venv $(UV_HOME)
	@$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV) ## install Python packages (uv), npm tools, Kafka jars, FerretDB, PostgreSQL
	@$(UV) sync --all-packages --frozen --quiet
	@$(MAKE) --no-print-directory tools
	@$(INFRA) setup

tools: ## install the npm tools (the official AsyncAPI parser) from their lockfile
	@if [ -f tools/asyncapi/package-lock.json ]; then \
	  command -v npm >/dev/null || { echo "missing prerequisite: npm (apt-get install nodejs npm)"; exit 1; }; \
	  npm ci --prefix tools/asyncapi --no-audit --no-fund --loglevel=error >/dev/null; fi

infra-up: $(UV) ## start Kafka, PostgreSQL + FerretDB, Radicale, the SMTP sink (reuses running ones)
	@$(INFRA) up
	@if $(RUN) python -c "import convene_schemas.topics" 2>/dev/null; then \
	  set -a; . $${CONVENE_HOME:-.convene}/infra.env; set +a; \
	  $(RUN) python -m convene_schemas.topics ensure --bootstrap "$$CONVENE_KAFKA_BOOTSTRAP"; fi

infra-down: $(UV) ## stop exactly the infrastructure processes this checkout started
	@$(INFRA) down

infra-status: $(UV) ## show which servers run and where
	@$(INFRA) status

run: install ## the whole system locally with demo data; Ctrl-C stops everything
	@$(RUN) python -m infra.run

lint: $(UV) ## ruff (lint, import order) over the tree, mypy over shared/, hadolint over the Dockerfiles
	@$(RUN) ruff check --quiet .
	@$(RUN) mypy --no-error-summary shared/kit/src shared/schemas/src
	@$(RUN) hadolint --failure-threshold warning services/*/Dockerfile

test-unit: $(UV) ## unit and contract tests of shared/ and services/ (all but integration; no servers)
	@$(PYTEST) $(wildcard shared services) -m "not integration"

test-contract: $(UV) ## contract tests only: the event contract and each service's Kafka wiring
	@$(PYTEST) $(wildcard shared services) -m contract

test-images: $(UV) ## the services' images without Docker: Dockerfile rules; each environment built and started
	@$(PYTEST) tests/images

test-integration-run: $(UV)
	@$(PYTEST) tests/integration -m integration

test-integration: $(UV) ## start the infrastructure, run the integration tests, stop it
	@$(MAKE) --no-print-directory infra-up || { $(MAKE) --no-print-directory infra-down; exit 1; }; \
	 $(MAKE) --no-print-directory test-integration-run; status=$$?; \
	 $(MAKE) --no-print-directory infra-down; exit $$status

test: install ## install everything, run lint, unit, image and integration tests, stop the infrastructure
	@start=$$(date +%s); \
	 $(MAKE) --no-print-directory lint; lint=$$?; \
	 $(MAKE) --no-print-directory test-unit; unit=$$?; \
	 $(MAKE) --no-print-directory test-images; images=$$?; \
	 $(MAKE) --no-print-directory test-integration; integration=$$?; \
	 echo "make test: lint exit $$lint, unit exit $$unit, images exit $$images, integration exit $$integration, $$(( $$(date +%s) - start ))s"; \
	 [ $$lint -eq 0 ] && [ $$unit -eq 0 ] && [ $$images -eq 0 ] && [ $$integration -eq 0 ]

clean: $(UV) ## stop the infrastructure and delete its data and logs (keeps download caches)
	@$(INFRA) clean

bench: install ## benchmarks on demand: BENCH=pipeline|burst|reminders|smtp (default all), BASELINE=<git rev>
	@BENCH_UV=$(UV) $(RUN) python -m bench $(BENCH) $(if $(BASELINE),--baseline $(BASELINE))
