# Convene: the two commands are `make run` and `make test`; everything else supports them.
# Every tool is installed from the project's own files: uv (PyPI), the Kafka jars (Maven
# Central through mvn), FerretDB (Go module proxy), PostgreSQL (Debian's package, as root),
# the AsyncAPI parser (npm registry), helm and kubeconform (Go module proxy, `go install` at
# pinned versions), checkov (PyPI, its own environment from tests/chart/checkov-requirements.txt).

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

# The chart's checkers (make test-chart), each installed once into the cache at its version.
HELM_VERSION := v4.3.2
KUBECONFORM_VERSION := v0.8.0
CHECKOV_VERSION := 3.3.30
HELM := $(CONVENE_CACHE_DIR)/helm-$(HELM_VERSION)/helm
KUBECONFORM := $(CONVENE_CACHE_DIR)/kubeconform-$(KUBECONFORM_VERSION)/kubeconform
CHECKOV_HOME := $(CONVENE_CACHE_DIR)/checkov-$(CHECKOV_VERSION)
CHECKOV := $(CHECKOV_HOME)/bin/checkov
CHECKOV_STAMP := $(CHECKOV_HOME)/installed

.PHONY: help install tools run test test-unit test-contract test-images test-chart test-integration test-integration-run lint \
        test-security test-security-run test-resilience infra-up infra-down infra-status clean bench

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

infra-up: $(UV) ## start Kafka, PostgreSQL + FerretDB, Radicale, the SMTP sink, the Google emulator (reuses running ones)
	@$(INFRA) up
	@if $(RUN) python -c "import convene_schemas.topics" 2>/dev/null; then \
	  set -a; . $${CONVENE_HOME:-.convene}/infra.env; set +a; \
	  $(RUN) python -m convene_schemas.topics ensure --bootstrap "$$CONVENE_KAFKA_BOOTSTRAP"; fi

infra-down: $(UV) ## stop exactly the infrastructure processes this checkout started
	@$(INFRA) down

infra-status: $(UV) ## show which servers run and where
	@$(INFRA) status

run: install ## the whole system locally with demo data; Ctrl-C stops everything (SUPERVISE=1: restart a service that exits)
	@$(RUN) python -m infra.run $(if $(SUPERVISE),--supervise)

lint: $(UV) ## ruff (lint, import order) over the tree, mypy over shared/, the services and examples/, hadolint over the Dockerfiles
	@$(RUN) ruff check --quiet .
	@$(RUN) mypy --no-error-summary shared/kit/src shared/schemas/src examples/meeting-watcher/src \
		services/records/src services/meetings/src services/notifications/src \
		services/booking-pages/src services/calendar-sync/src
	@$(RUN) hadolint --failure-threshold warning services/*/Dockerfile

test-unit: $(UV) ## unit and contract tests of shared/, services/, examples/, the emulators, infra/ and bench/ (all but integration; no servers)
	@$(PYTEST) $(wildcard shared services examples) tests/emulators tests/infra tests/bench -m "not integration"

test-contract: $(UV) ## contract tests only: the event contract and each service's Kafka wiring
	@$(PYTEST) $(wildcard shared services) -m contract

test-images: $(UV) ## the services' images without Docker: Dockerfile rules; each environment built and started
	@$(PYTEST) tests/images

$(HELM):
	@command -v go >/dev/null || { echo "missing prerequisite: go (Go 1.26 or newer builds helm)"; exit 1; }
	@echo "install: helm $(HELM_VERSION) with go install into $(@D) (a few minutes, once)"
	@set -o pipefail; GOBIN=$(@D) CGO_ENABLED=0 go install -trimpath \
	  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION)" \
	  helm.sh/helm/v4/cmd/helm@$(HELM_VERSION) 2>&1 | { grep -v '^go: downloading' || true; }

$(KUBECONFORM):
	@command -v go >/dev/null || { echo "missing prerequisite: go (Go 1.26 or newer builds kubeconform)"; exit 1; }
	@echo "install: kubeconform $(KUBECONFORM_VERSION) with go install into $(@D)"
	@set -o pipefail; GOBIN=$(@D) CGO_ENABLED=0 go install -trimpath \
	  -ldflags "-s -w -X main.version=$(KUBECONFORM_VERSION)" \
	  github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION) 2>&1 | { grep -v '^go: downloading' || true; }

# checkov's dependency tree conflicts with the workspace lock: its own environment, every
# package pinned with hashes; once there it runs offline (the tests pass --skip-download).
$(CHECKOV_STAMP): $(UV)
	@grep -qx 'checkov==$(CHECKOV_VERSION) \\' tests/chart/checkov-requirements.txt || \
	  { echo "tests/chart/checkov-requirements.txt does not pin checkov==$(CHECKOV_VERSION)"; exit 1; }
	@echo "install: checkov $(CHECKOV_VERSION) into $(CHECKOV_HOME)"
	@rm -rf $(CHECKOV_HOME)
	@UV_PYTHON_DOWNLOADS=never $(UV) venv --quiet --python $(PYTHON_FOR_UV) $(CHECKOV_HOME)
	@$(UV) pip install --quiet --python $(CHECKOV_HOME)/bin/python --require-hashes --no-deps \
	  -r tests/chart/checkov-requirements.txt
	@touch $@

test-chart: $(UV) $(HELM) $(KUBECONFORM) $(CHECKOV_STAMP) ## the Helm chart: helm lint, each ci/ scenario through kubeconform and checkov, its rules (tests/chart)
	@CONVENE_HELM=$(HELM) CONVENE_KUBECONFORM=$(KUBECONFORM) CONVENE_CHECKOV=$(CHECKOV) $(PYTEST) tests/chart

test-integration-run: $(UV)
	@$(PYTEST) tests/integration -m integration

# The security suite (tests/security) against the five services on the running
# infrastructure: SECURITY_PROFILE=fast (inside make test) or full (make test-security).
SECURITY_PROFILE ?= fast
test-security-run: $(UV)
	@CONVENE_SECURITY_PROFILE=$(SECURITY_PROFILE) $(PYTEST) tests/security -m integration

test-integration: $(UV) ## start the infrastructure, run the integration tests and the security suite's fast profile, stop it
	@$(MAKE) --no-print-directory infra-up || { $(MAKE) --no-print-directory infra-down; exit 1; }; \
	 $(MAKE) --no-print-directory test-integration-run; status=$$?; \
	 $(MAKE) --no-print-directory test-security-run SECURITY_PROFILE=fast; security=$$?; \
	 $(MAKE) --no-print-directory infra-down; [ $$status -eq 0 ] && [ $$security -eq 0 ]

test-security: $(UV) ## the security suite, full profile (fuzzing every OpenAPI document, stateful; tenancy, tokens, SSRF, injection, secrets, rate limits); figures in .convene/artifacts/security.json
	@$(MAKE) --no-print-directory infra-up || { $(MAKE) --no-print-directory infra-down; exit 1; }; \
	 $(MAKE) --no-print-directory test-security-run SECURITY_PROFILE=full; status=$$?; \
	 $(MAKE) --no-print-directory infra-down; exit $$status

# The resilience suite (tests/resilience) starts and stops an infrastructure instance of its
# own (.convene/resilience/, ports 29xxx): RESILIENCE_PROFILE=full (make test-resilience:
# 2,000 meetings, 30-60 s outages) or fast (inside make test).
RESILIENCE_PROFILE ?= full
test-resilience: $(UV) ## crashes, outages, network faults and poison events on the suite's own infrastructure instance (RESILIENCE_PROFILE=full|fast); figures in .convene/artifacts/resilience.json
	@CONVENE_RESILIENCE_PROFILE=$(RESILIENCE_PROFILE) $(PYTEST) tests/resilience -m integration

test: install ## install everything, run lint, unit, image, chart, integration, security (fast) and resilience (fast) tests, stop the infrastructure
	@start=$$(date +%s); \
	 $(MAKE) --no-print-directory lint; lint=$$?; \
	 $(MAKE) --no-print-directory test-unit; unit=$$?; \
	 $(MAKE) --no-print-directory test-images; images=$$?; \
	 $(MAKE) --no-print-directory test-chart; chart=$$?; \
	 $(MAKE) --no-print-directory test-integration; integration=$$?; \
	 $(MAKE) --no-print-directory test-resilience RESILIENCE_PROFILE=fast; resilience=$$?; \
	 echo "make test: lint exit $$lint, unit exit $$unit, images exit $$images, chart exit $$chart, integration and security exit $$integration, resilience exit $$resilience, $$(( $$(date +%s) - start ))s"; \
	 [ $$lint -eq 0 ] && [ $$unit -eq 0 ] && [ $$images -eq 0 ] && [ $$chart -eq 0 ] && [ $$integration -eq 0 ] && [ $$resilience -eq 0 ]

clean: $(UV) ## stop the infrastructure and delete its data and logs (keeps download caches)
	@$(INFRA) clean

bench: install ## benchmarks on demand: BENCH=pipeline|burst|reminders|smtp (default all), BASELINE=<git rev>
	@BENCH_UV=$(UV) $(RUN) python -m bench $(BENCH) $(if $(BASELINE),--baseline $(BASELINE))
