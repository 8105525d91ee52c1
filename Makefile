# Two entry points for a fresh machine: `make demo` and `make test`.
# TORCH picks the PyTorch to install first: the CPU build by default (a laptop, CI);
# on a GPU server use `make demo TORCH=torch` (or install PyTorch yourself beforehand).
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]"
	# SzCORE's own scorer for the conformance test: pure Python, but its wheel declares
	# Python >= 3.12, so it is installed without that check; epilepsy2bids is what it reads with
	$(BIN)/python -m pip install -q "epilepsy2bids==0.0.7"
	$(BIN)/python -m pip install -q --no-deps --ignore-requires-python "szcore-evaluation==0.0.7"
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/seizure demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/run_all.py
