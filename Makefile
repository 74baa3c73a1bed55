# FinML developer commands. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint format bench clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml version.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install finml with test extras (editable)

demo: $(STAMP) ## Run the main job on the embedded simulated market (every stage)
	$(BIN)/finml demo

test: $(STAMP) ## Lint, then run every test tier (unit, spark, integration)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/pytest

test-fast: $(STAMP) ## Unit tests only (no Spark)
	$(BIN)/pytest tests/unit

lint: $(STAMP) ## ruff lint + format check
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

bench: $(STAMP) ## Run the benchmarks (minutes; results go to docs/benchmarks.md by hand)
	$(BIN)/python benchmarks/table_io.py
	$(BIN)/python benchmarks/medallion.py

clean: ## Remove local state (.finml), caches and test artifacts (keeps .venv)
	rm -rf .finml test-artifacts benchmarks/out .pytest_cache .ruff_cache
