"""Bits-per-character compression tasks for EleutherAI's lm-evaluation-harness."""

__version__ = "0.1.0"
