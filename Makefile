# omnivec: `make serve` sets everything up and starts the server with a demo index;
# `make test` sets everything up and runs lint and the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup apt lite serve test test-all lint format bench reliability clean

setup: apt $(STAMP)

apt:
	@bash scripts/ensure-apt.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned to the CPU build; asking for it first keeps pip from choosing a CUDA build
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

lite: setup
	$(BIN)/omnivec build --model lite

serve: lite
	$(BIN)/omnivec serve --demo

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -m "not slow"

test-all: lint
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/throughput.py

# The full hostile-input, overload and crash suite (tests/hostile, many examples and kills);
# regenerates docs/reliability.md. `make test` runs its fast subset.
reliability: setup
	$(BIN)/python scripts/reliability.py

format: setup
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
