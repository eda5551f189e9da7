# The two commands of the README:
#   make demo   set up .venv and run the headline job (bin/salad --sr=3.3,3.7) on the embedded toy data
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo test clean docker docker-cpu
IMAGE ?= resad_tf

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,hpc,hpsearch]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python bin/salad --sr=3.3,3.7 --output_dir=runs/demo

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs build *.egg-info .pytest_cache

docker:
	docker build -f docker/Dockerfile -t $(IMAGE):gpu .

docker-cpu:
	docker build -f docker/Dockerfile --build-arg VARIANT=cpu -t $(IMAGE):cpu .
