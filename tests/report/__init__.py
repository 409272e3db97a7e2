"""Tests of lm_eval_compression.report."""
