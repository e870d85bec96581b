# make demo  — set up .venv and run the SNPE 2.7 MobileNetV3 scenario end to end
# make test  — set up .venv and run lint, format check, type check and every test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# torch is an optional extra of the library; the demo and the tests need it. These two releases
# install from this machine kind's local disk (a CPU-only run here; see README).
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test lint typecheck pytest bench fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,torch,converters,bench,qnn]' $(TORCH)
	touch $@

demo: $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed
	$(PY) -m pytest

test: lint typecheck pytest

# Thousands of random graphs and targets through fix (CI runs 150).
fuzz: $(VENV)/.installed
	OPSWAP_FUZZ_EXAMPLES=5000 $(PY) -m pytest tests/test_fuzz.py -p no:logging

# Speed and memory against onnx.load + onnx.save and the peers, as ratios measured in one run
# (about 20 minutes: the peers take minutes each at 1M nodes), then ORT latency of the fixed model.
bench: $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) bench/bench_fix.py --nodes 10000 100000 1000000 --peers --external-gb 8 --verify-nodes 20000 100000
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) bench/bench_latency.py
	$(PY) bench/bench_startup.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache .cache
