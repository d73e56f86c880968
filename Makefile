# Two commands do all set-up on a fresh machine:
#   make demo   installs skclean in .venv and runs the main demo
#   make test   installs skclean in .venv and runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test docs bench stress lint constraints clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: this pin installs the CPU build; an unpinned torch pulls CUDA (GBs)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,docs,lint,bench]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m skclean demo

test: $(STAMP)
	$(BIN)/python -m pytest

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_influence.py
	$(BIN)/python benchmarks/detection_accuracy.py

# kill runs at random answers, duplicate rows x every cleaner, a shared journal (~15 min)
stress: $(STAMP)
	$(BIN)/python benchmarks/reliability.py --runs 50 | tee benchmarks/results/reliability.txt

lint: $(STAMP)
	$(BIN)/ruff check skclean tests examples benchmarks

constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//' > constraints.txt

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples docs/generated
