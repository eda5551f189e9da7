# The two commands of the README:
#   make demo   set up .venv and run the headline job (bin/salad --sr=3.3,3.7) on the embedded toy data
#   make test   set up .venv and run the test suite
# Both install the locked environment (requirements/lock.txt, hashes checked); `make lock` refreshes it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
LOCK   := requirements/lock.txt
PIP_VERSION := 26.3
UV_VERSION  := 0.13.9
EXTRAS := --extra test --extra hpc --extra hpsearch

.PHONY: install demo test lock clean docker docker-cpu
IMAGE ?= resad_tf

$(VENV)/.installed: $(LOCK) setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python bin/salad --sr=3.3,3.7 --output_dir=runs/demo --overwrite

test: install
	$(BIN)/python -m pytest

# Re-resolve the locks from setup.cfg, keeping the pins that still fit (UPGRADE=--upgrade moves everything to
# the newest versions setup.cfg allows); review the diff, then `make clean test`.
lock:
	$(PYTHON) -m venv build/uv
	build/uv/bin/python -m pip install --quiet uv==$(UV_VERSION)
	build/uv/bin/uv pip compile setup.cfg $(EXTRAS) --universal --python-version 3.11 --generate-hashes \
	    $(UPGRADE) --custom-compile-command "make lock" -o $(LOCK)
	echo "tensorflow[and-cuda]" | build/uv/bin/uv pip compile setup.cfg - $(EXTRAS) --python-version 3.11 \
	    --python-platform x86_64-manylinux_2_28 --generate-hashes $(UPGRADE) --custom-compile-command "make lock" \
	    -c $(LOCK) -o requirements/lock-gpu.txt

clean:
	rm -rf $(VENV) runs build *.egg-info .pytest_cache

docker:
	docker build -f docker/Dockerfile -t $(IMAGE):gpu .

docker-cpu:
	docker build -f docker/Dockerfile --build-arg VARIANT=cpu -t $(IMAGE):cpu .
