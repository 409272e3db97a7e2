"""Tests of lm_eval_compression.engine."""
