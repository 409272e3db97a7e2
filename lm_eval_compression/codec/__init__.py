"""Real compression: ``compress`` / ``decompress`` a corpus with a model's probabilities and a range coder.

Modules::

    exact_ops    arithmetic that is the same on every machine: exact integer sums, IEEE elementwise steps, tables
    exact_model  a Llama-family model in that arithmetic: one-pass windows and cached steps give the same rows
    coding       the window schedule both sides run: documents dealt to streams, range coding, the probe
    step_graph   the decoder's step of every cache slot in fixed shapes, replayed as a CUDA graph on a GPU
    archive      the compressed file: a checksummed binary header (a typed ``Header``), then the coder's words
    model_files  which model a file needs: the hash of its weight and tokenizer files
    model_cache  a GGUF model's de-quantised copy, kept so that later runs load it in a second
    report       the report: file size vs the task's bpc, gzip, xz and zstd
    memory       freed memory kept for reuse by the commands' process (no page faults per large tensor)
    commands     the two commands: read the corpus, load the model through the harness, check, code
"""
