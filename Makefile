# FinML developer commands. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JARS   := .jars
JARS_STAMP := $(JARS)/.verified
# ydata-profiling, the peer of benchmarks/eda.py, pins older numpy/scipy/matplotlib than
# FinML: it gets a venv of its own
YDATA_VENV ?= .venv-ydata
YDATA_STAMP := $(YDATA_VENV)/.installed
# sops (pinned Go module) goes to a project-local folder; age comes from Debian.
TOOLS        := .tools
SOPS_VERSION := v3.13.3
SOPS_STAMP   := $(TOOLS)/.sops-$(SOPS_VERSION)
GO           ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
# `make test` runs pytest on this many worker processes (pytest-xdist), each module on one
# worker (--dist loadfile: a module's fixtures -- a warehouse, a server, a cluster -- are
# built once) and each worker with its own SparkSession. Much of the suite waits on JVM
# start-ups and subprocesses, so 2 workers on 2 cores cut its time by about 40 %
# (docs/architecture.md, Tests). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install jars browser tools demo test test-fast lint format reference bench clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml version.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[local,test]"
	@touch $(STAMP)

install: $(STAMP) $(JARS_STAMP) ## Create .venv, install finml with the local (Spark, Delta) and test extras (editable), fetch the Delta jars

# The Delta Lake jars (jvm/pom.xml) from Maven Central, checked against jvm/jars.sha256.
# Without Maven or a reachable repository the install still succeeds: FinML then uses
# delta-rs and says why (finml info).
jars: $(JARS_STAMP) ## Fetch the Delta Lake jars with Maven into .jars (checksums verified)

$(JARS_STAMP): jvm/pom.xml jvm/jars.sha256
	@rm -rf $(JARS)
	@if command -v mvn >/dev/null 2>&1 \
	  && mvn -q -B -C -f jvm/pom.xml dependency:copy-dependencies -DexcludeTransitive=true \
	       -DoutputDirectory=../$(JARS) > .jars.log 2>&1 \
	  && (cd $(JARS) && sha256sum --quiet --strict -c ../jvm/jars.sha256) >> .jars.log 2>&1; then \
	  touch $@; echo "Delta jars in $(JARS) (checksums verified)"; \
	else \
	  rm -rf $(JARS); echo "Delta jars unavailable (see .jars.log): FinML falls back to delta-rs"; \
	fi

# The dashboard's browser tests drive Debian's Chromium through Playwright (never a browser
# download). Installed when missing and we may (root with apt-get); else the tests skip, saying why.
browser: ## Install Debian's chromium for the browser tests (if missing)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and cannot be installed here: browser tests will skip"; fi; }

# The secrets tests encrypt and decrypt real files: Debian's age (apt, only when root and
# missing) and sops built from its Go module at a pinned version into .tools/bin (measured
# on 2 busy cores: 3 min 53 s with empty Go caches, 13 s with warm ones; skipped when its
# stamp exists). When neither can be
# installed the target says why and the secrets tests skip, naming the missing tool.
tools: $(SOPS_STAMP) ## Install age (Debian) and sops (Go module, pinned) for the secrets tests
	@command -v age-keygen >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age >/dev/null; \
	  else echo "age missing and cannot be installed here (not root or no apt-get): secrets tests will skip"; fi; }

$(SOPS_STAMP):
	@if [ -x "$(GO)" ]; then \
	  echo "building sops $(SOPS_VERSION) into $(TOOLS)/bin (go install, a few minutes once)"; \
	  GOBIN="$(CURDIR)/$(TOOLS)/bin" GOFLAGS=-mod=mod "$(GO)" install github.com/getsops/sops/v3/cmd/sops@$(SOPS_VERSION) \
	    && touch $@; \
	else echo "no Go toolchain ($(GO)): sops not installed, secrets tests will skip"; fi

demo: $(STAMP) $(JARS_STAMP) ## Run the main job on the embedded simulated market (every stage)
	$(BIN)/finml demo

test: $(STAMP) $(JARS_STAMP) browser tools ## Lint, then run every test tier (unit, spark, integration)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy src/finml
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP) ## Unit tests only (no Spark)
	$(BIN)/pytest tests/unit

lint: $(STAMP) ## ruff lint + format check + the layer contracts (import-linter) + mypy
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy src/finml

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

reference: $(STAMP) ## Regenerate docs/reference.md (every command and config key) from the code
	$(BIN)/finml docs reference --write

$(YDATA_STAMP): benchmarks/ydata-requirements.txt
	$(PYTHON) -m venv $(YDATA_VENV)
	$(YDATA_VENV)/bin/pip install --quiet -r benchmarks/ydata-requirements.txt
	@touch $(YDATA_STAMP)

bench: $(STAMP) $(YDATA_STAMP) ## Run every benchmark (tens of minutes; results go to docs/benchmarks.md by hand)
	$(BIN)/pip install --quiet -e ".[local,bench]"
	@for b in table_io driver_appends medallion regimes tournament drift serving collectors job_runner dashboard_export eda; do \
	  echo "== benchmarks/$$b.py"; YDATA_PYTHON=$(abspath $(YDATA_VENV))/bin/python $(BIN)/python benchmarks/$$b.py || exit 1; done

clean: ## Remove local state (.finml), caches and test artifacts (keeps .venv)
	rm -rf .finml test-artifacts benchmarks/out .pytest_cache .ruff_cache .import_linter_cache .mypy_cache
