"""Tests of lm_eval_compression.codec."""
