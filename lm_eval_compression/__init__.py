"""Bits-per-character compression tasks for EleutherAI's lm-evaluation-harness."""

__version__ = "0.1.0"

# The corpora of the paper's compression tasks: ``compression_<name>`` reads ``<name>.jsonl``.
CORPORA = ("cc", "python", "arxiv_math")
