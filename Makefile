# The two commands a newcomer needs: `make demo` and `make test`. Both set up .venv when it is missing.
PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
SCALE    ?= 1
SEED     ?= 42
DATA     ?= data
RAW      := $(DATA)/raw
WAREHOUSE := $(DATA)/warehouse.duckdb

.PHONY: demo test lint venv clean docs

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/closedloop generate --scale $(SCALE) --seed $(SEED) --out $(RAW)
	$(BIN)/closedloop build --raw $(RAW) --warehouse $(WAREHOUSE)
	$(BIN)/closedloop summary --warehouse $(WAREHOUSE)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

docs: $(STAMP)
	$(BIN)/closedloop docs --warehouse $(WAREHOUSE)

clean:
	rm -rf $(DATA) target logs
