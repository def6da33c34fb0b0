# InfoLit: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ARGS ?=

help: ## List the targets with a line on each
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed ## Install into .venv and run the main job on the embedded SQLite default
	$(BIN)/infolit demo $(DEMO_ARGS)

test: $(VENV)/.installed-dev ## Install dev extras into .venv and run the whole test suite
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev ## ruff and mypy (strict) over the packages
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed-dev ## Run the benchmarks in bench/ and print their figures
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

.PHONY: help demo test lint bench clean
