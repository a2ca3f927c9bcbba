# kernelnet: `make demo` trains the Keras MNIST CNN on the shipped MNIST; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test bench bench-deps lint clean docs docs-images graphviz

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

docs: install
	$(PY) -m pdoc kernelnet --docformat google -o docs/api
	@echo "API reference in docs/api/index.html"

# Every picture in docs/ from the runs the tutorial describes (about 10 minutes on 2 cores).
DOCS_RUNS ?= runs/docs
docs-images: install
	$(PY) examples/conv_by_hand.py --out $(DOCS_RUNS)/conv_by_hand
	$(PY) examples/output_sizes.py --out $(DOCS_RUNS)/output_sizes
	$(PY) examples/im2col_demo.py --out $(DOCS_RUNS)/im2col
	$(PY) examples/lenet.py --epochs 5 --out $(DOCS_RUNS)/lenet
	$(PY) examples/visualize.py --model $(DOCS_RUNS)/lenet/lenet.kn --out $(DOCS_RUNS)/visualize
	$(PY) examples/folder_classifier.py --epochs 10 --out $(DOCS_RUNS)/folder_classifier
	cp $(DOCS_RUNS)/conv_by_hand/sobel.png $(DOCS_RUNS)/output_sizes/output_sizes.png \
	   $(DOCS_RUNS)/im2col/im2col.png $(DOCS_RUNS)/lenet/lenet_history.png \
	   $(DOCS_RUNS)/lenet/lenet_confusion.png $(DOCS_RUNS)/lenet/lenet_kernels_c1.png \
	   $(DOCS_RUNS)/visualize/feature_maps.png $(DOCS_RUNS)/visualize/grad_cam.png \
	   $(DOCS_RUNS)/folder_classifier/augmented_batch.png \
	   $(DOCS_RUNS)/folder_classifier/predictions.png docs/images/

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
