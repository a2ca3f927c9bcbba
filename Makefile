# kernelnet: `make demo` trains the Keras MNIST CNN on the shipped MNIST; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test bench lint clean graphviz

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e ".[test,plots]"
	touch $@

install: $(VENV)/.installed

# utils.plot_model's render test needs Graphviz's `dot` program (Debian package graphviz).
graphviz:
	@command -v dot >/dev/null || apt-get install -y -q graphviz >/dev/null || \
		{ apt-get update -q >/dev/null && apt-get install -y -q graphviz >/dev/null; }

demo: install
	$(PY) examples/mnist_cnn.py --epochs 5 --out runs/mnist_cnn

lint: install
	$(PY) -m ruff check kernelnet tests examples benchmarks scripts

test: install lint graphviz
	$(PY) scripts/loc.py
	$(PY) -m pytest -q -n 2 --doctest-modules kernelnet/ops kernelnet/layers kernelnet/models kernelnet/optimizers kernelnet/utils/np_utils.py tests

bench: install
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
