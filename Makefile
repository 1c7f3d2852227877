# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/daq: pyproject.toml
	@echo "Installing benchdaq and what it needs into $(VENV) (once; a few minutes)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[test,fast]'
	@echo "Installed: $(BIN)/daq"
	touch $@

## Monitor the embedded demo lab (simulated instruments over serial/pty, VISA socket, TCP,
## Modbus TCP and RTU) for 10 s, then calibrate its dial gauge; all into data/daq.sqlite.
demo: $(BIN)/daq
	$(BIN)/daq monitor --simulate --duration 10
	$(BIN)/daq run pressure-gauge --simulate --json data/pressure-gauge.json

## The example plugin (examples/plugin-example), installed as a lab installs its own.
$(VENV)/.plugin-example: $(BIN)/daq examples/plugin-example/pyproject.toml
	@echo "Installing the example plugin (examples/plugin-example)..."
	$(BIN)/python -m pip install --quiet --no-deps -e examples/plugin-example
	touch $@

## Install what the tests need, then run all of them, then the linters.
test: $(BIN)/daq $(VENV)/.plugin-example
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory lint

## ruff, ruff format, mypy --strict and the import layers (.importlinter).
lint: $(BIN)/daq
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(BIN)/daq
	$(BIN)/python bench/acquisition.py
	$(BIN)/python bench/forwarding.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) data
