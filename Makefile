# One entry point for the README's two commands:
#   make book   set everything up, execute the notebooks, build the book into _build/html
#   make test   set everything up and run every test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup system book book-smoke test test-gpu release benchmark benchmark-gpu clean

# System packages (bubblewrap, PostgreSQL, Chromium for the browser tests) are checked on every run: a fast no-op once present.
setup: system $(STAMP)

system:
	@bash scripts/system_packages.sh

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

book: setup
	$(PY) scripts/build_book.py

# The small build that `make test` also makes and reads (every chapter at smoke sizes, into
# _build/smoke/html); the browser tests leave screenshots in _build/screenshots/.
book-smoke: setup
	$(PY) scripts/build_book.py --smoke

test: setup
	$(PY) -m pytest

test-gpu: setup
	$(PY) -m pytest -m gpu

release: setup
	$(PY) -m autograder release

# Full-size measurements (minutes); results land in benchmarks/results/ and the book reads them.
benchmark: setup
	$(PY) benchmarks/conv_speed.py
	$(PY) benchmarks/lenet_mnist.py
	$(PY) benchmarks/modern_cnns.py
	$(PY) benchmarks/numpy_resnet.py
	$(PY) benchmarks/lstm_speed.py
	$(PY) benchmarks/char_lm.py
	$(PY) benchmarks/generative.py
	$(PY) benchmarks/regularization.py
	$(PY) benchmarks/transfer_learning.py
	$(PY) benchmarks/grader_throughput.py
	$(PY) benchmarks/initialization.py

# On a machine with a CUDA GPU (each exits with a message without one).
benchmark-gpu: setup
	$(PY) benchmarks/gpu_cnns.py
	$(PY) benchmarks/gpu_lstm.py

clean:
	rm -rf _build
