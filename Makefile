# Two commands from a fresh clone:
#   make lab    set up .venv and open JupyterLab at the repository root (practice agent by default)
#   make test   set up .venv and run every check: ruff, unit and integration tests, notebooks
# For instructors and maintainers:
#   make lock   re-pin requirements/*.txt after a change to pyproject.toml (UPGRADE=1: newest)
#   make strip  strip the outputs JupyterLab saved into notebooks/, before a commit
PYTHON ?= python3
# Byte-code caches on: the suite starts about a thousand Python processes (agents, tasks,
# kernels, commands), and where PYTHONDONTWRITEBYTECODE is set (some CI images set it) each
# would compile everything it imports anew: about 40% of the suite's CPU.
unexport PYTHONDONTWRITEBYTECODE
VENV   ?= .venv
BIN     = $(VENV)/bin
# Locks are universal (any OS), for the oldest Python the kit supports and every newer one.
LOCK    = $(BIN)/uv pip compile --quiet --universal --python-version 3.10 \
          --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade,) \
          --constraint requirements/constraints.txt pyproject.toml

.PHONY: lab test lint lock strip bench clean

# uv installs the locked versions in seconds; it comes from PyPI at the version the lock pins.
# The venv starts without pip (ensurepip costs about 6 s): this Python's pip puts uv in it,
# or, where this Python has no pip, the venv's own; uv then adds pip, for %pip in notebooks.
UV_PIN  = "$$(grep -m1 '^uv==' requirements/test.txt)"
# No check of PyPI for a newer pip (a network round trip), no byte-code for uv's few files.
PIP_QUIET = --quiet --disable-pip-version-check --no-compile
$(BIN)/uv:
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install $(PIP_QUIET) $(UV_PIN) 2>/dev/null \
	    || { $(BIN)/python -m ensurepip --default-pip >/dev/null \
	         && $(BIN)/python -m pip install $(PIP_QUIET) $(UV_PIN); }
	$(BIN)/uv pip install --quiet --python $(BIN)/python pip

# The kit is installed editable in "compat" mode: a plain path in a .pth file. setuptools'
# default editable finder costs every Python process about 50 ms of imports at start, and
# agents, tasks and kernels are Python processes.
$(BIN)/.installed: $(BIN)/uv pyproject.toml requirements/test.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/test.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . \
	    --config-setting editable_mode=compat
	touch $@

# python-hcl2 writes its parser tables on first use (2 to 4 s of CPU): `make lab` writes
# them before a learner's first job, and `make test` in its warm-up below, never a parse.
TABLES = import hcl2; hcl2.loads('')
$(BIN)/.parser-tables: $(BIN)/.installed
	$(BIN)/python -c "$(TABLES)"
	touch $@

lock: $(BIN)/uv
	$(LOCK) -o requirements/lab.txt
	$(LOCK) --extra test -o requirements/test.txt

# JupyterLab at the repository root, notebooks/00_setup.ipynb open, terminals with the kit's
# nomadlab and python; when it stops, it offers to stop the agent the kit started.
lab: $(BIN)/.parser-tables
	$(BIN)/nomadlab lab

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Tests wait on timers as much as on CPU: run them on 7 workers, a notebook or a test file
# per worker at a time, each notebook with an agent of its own, judged as git holds it.
# More workers than cores keeps both cores busy while tests wait. Files start longest
# first (tests/durations.json): --no-loadscope-reorder keeps that order, where xdist
# would otherwise deal out the files with the most tests first.
TEST_WORKERS ?= 7
# One process collects first: it writes the byte-code of all that collection imports
# (matplotlib, Jupyter's clients, the kit) once, where the workers starting together would
# each compile it. On a fresh clone that costs 11 s and saves about 35 s of CPU (12 s of
# the whole); with warm caches it costs 5 s. A collection error shows again in the run.
# Meanwhile, on the other core, one process writes the parser tables, imports matplotlib and
# ipywidgets (which the collection reaches last), then what the first tests' agents,
# kernels, Jupyter servers and browser driver import, for the same reason.
WARM = $(TABLES); import matplotlib.pyplot, ipywidgets, IPython.core.formatters, \
       nomadlab.practice.agent, ipykernel.kernelapp, jupyter_server.serverapp, playwright.sync_api

test: lint
	{ $(BIN)/python -c "$(WARM)" && touch $(BIN)/.parser-tables; } & warm=$$!; \
	$(BIN)/python -m pytest --collect-only -q -p no:cacheprovider --notebooks=committed \
	    >/dev/null; wait $$warm
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
	    --notebooks=committed

NOTEBOOKS ?= notebooks/*.ipynb

strip: $(BIN)/.installed
	$(BIN)/python tests/test_notebooks_clean.py --strip $(NOTEBOOKS)

bench: $(BIN)/.installed
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
