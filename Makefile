# kernelnet: `make demo` trains the Keras MNIST CNN on the shipped MNIST; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test bench bench-deps lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e ".[test,plots]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/mnist_cnn.py --epochs 5 --out runs/mnist_cnn

lint: install
	$(PY) -m ruff check kernelnet tests examples benchmarks scripts

test: install lint
	$(PY) scripts/loc.py
	$(PY) -m pytest -q -n 2 --doctest-modules kernelnet/ops kernelnet/layers kernelnet/models kernelnet/optimizers kernelnet/utils/np_utils.py tests

# PyTorch's allocator configurations (benchmarks/run.py): Debian's tcmalloc and jemalloc.
ALLOCATOR_PACKAGES := libtcmalloc-minimal4 libjemalloc2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

bench-deps: install
	$(PY) -m pip install -q -e ".[bench]"
	@if ! ldconfig -p | grep -q libtcmalloc_minimal.so.4 || ! ldconfig -p | grep -q libjemalloc.so.2; \
	then $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $(ALLOCATOR_PACKAGES); fi

bench: bench-deps
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
