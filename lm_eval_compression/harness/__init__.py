"""Glue to lm-evaluation-harness: the task class, the hooks into its model wrappers, and task discovery.

Modules (:mod:`.discovery` is imported at every Python start-up by ``lm_eval_compression.pth``, so this
package imports nothing at load time)::

    task       CompressionTask: reads the corpus, checks the settings, builds one request per document
    requests   the request format: stock rolling arguments plus the window settings and model (the cache key)
    identity   the identity of the model behind an hf or vllm wrapper: cache key and checkpoint key
    hooks      install(): route compression requests of the hf/vllm wrappers to the runner, bpc stderr
    runner     one task's requests -> plan -> HF or vLLM scorer -> per-document responses
    metrics    bpc and bpb as ratios of corpus totals, with delta-method standard errors
    context_curve  the task's bpc by context length, summed over its documents' responses
    groups     bpc and bpb per value of a document field (group_by), with macro and micro averages
    signals    the distribution of the documents' Min-K% and Min-K%++ (mean, percentiles)
    compat     what differs between the harness releases supported (0.4.13, 0.5.0.dev1)
    discovery  the start-up hook that lets lm_eval find the tasks without --include_path
"""
