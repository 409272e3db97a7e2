"""The scoring engine: from token sequences to exact per-document log-likelihoods, with no harness code.

Modules, each one step (only :mod:`.scoring`, :mod:`.vllm_scoring`, :mod:`.membership` and :mod:`.resume` import
torch)::

    windows       window geometry of both protocols, pure Python; batch planning by length
    context       context-length buckets of scored tokens and the characters each token owns
    membership    Min-K% and Min-K%++ per document from the scored positions' log-probabilities and moments
    records       per-token records: Parquet parts written as the run goes, merged per task (resume-safe)
    planning      documents or the paper's stream -> a ScoringPlan of token sequences and window jobs
    scoring       the HF scorer: runs planned windows on a causal LM, head only on scored positions
    vllm_scoring  the same plan scored through the harness's vLLM wrapper (prompt log-probabilities)
    resume        saved progress of a killed run: finished documents, paper-stream checkpoints
"""
