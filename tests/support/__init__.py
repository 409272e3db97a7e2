"""What the tests share::

corpora    local corpora in the dataset's schema; the text the tiny tokenizers learn
models     tiny random-weight Llama models with tokenizers trained here
cli        the real lm_eval command and python -m lm_eval_compression, offline, in a subprocess
api        the compression tasks through the harness's Python API (simple_evaluate)
reference  independent plain-PyTorch references of both protocols
resume     lm_eval runs killed with SIGKILL and run again, beside an uninterrupted run
smollm2    the real SmolLM2-135M (GGUF, or a plain folder for vLLM), or a skip with the reason
"""
