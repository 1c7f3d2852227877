# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/daq: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## Monitor the embedded demo lab (simulated balance, thermometer readout, pressure
## transmitters over serial/pty, VISA socket, Modbus TCP and RTU) for 15 s into data/daq.sqlite.
demo: $(BIN)/daq
	$(BIN)/daq monitor --simulate --duration 15

## Install what the tests need, then run all of them, then the linters.
test: $(BIN)/daq
	$(BIN)/python -m pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(BIN)/daq
	$(BIN)/python bench/acquisition.py

clean:
	rm -rf $(VENV) data
