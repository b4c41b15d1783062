# turnout — two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv (Python >= 3.11) and install turnout with its test extras first.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all venv system-deps lint test demo bench clean

all: test

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.11 is required (none found on PATH)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests and benchmarks use (nginx, haproxy, wrk, postgresql, ...).
# Installed when running as root with apt-get; otherwise prints what is missing.
system-deps:
	@scripts/install-system-deps.sh

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: venv system-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: venv
	$(BIN)/turnout demo

bench: venv system-deps
	$(BIN)/python bench/router.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
