# Two commands from a fresh clone:
#   make lab    set up .venv and open JupyterLab on the notebooks (practice agent by default)
#   make test   set up .venv and run every check: ruff, unit and integration tests, notebooks
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: lab test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# JupyterLab refuses root unless told; containers and some workshop images run as root.
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(BIN)/.installed
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Tests wait on timers more than on CPU: run them on 4 workers, a notebook or a test file
# per worker at a time, each notebook with an agent of its own, judged as git holds it.
TEST_WORKERS ?= 4

test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --notebooks=committed

bench: $(BIN)/.installed
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
