# Two commands on a fresh clone; each sets up the environment first when needed.
#   make repro   every stage of the pipeline (dvc repro): every table and figure
#   make test    the test suite (unit tests, design tests, one end-to-end run on a slice)
# Also: make setup (the environment alone), make lab (JupyterLab on the notebooks),
#       make exp S="importance.J=20" (a checked `dvc exp run -S`: a bad value is refused before any stage runs)
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

.PHONY: setup repro test lab exp

setup: $(VENV)/.ready

$(VENV)/.ready: scripts/setup.sh requirements.txt requirements.lock pyproject.toml
	bash scripts/setup.sh
	touch $@

repro: setup
	dvc repro

test: setup
	python -m pytest -q

lab: setup
	jupyter lab notebooks/

exp: setup
	python -m tsns exp $(foreach s,$(S),-S $(s))
