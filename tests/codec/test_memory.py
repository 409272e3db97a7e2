"""The commands' malloc settings: glibc accepts every one (mallopt answers 1), and large tensors still allocate
and free after them."""

import sys

import pytest
import torch

from lm_eval_compression.codec import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_glibc_accepts_the_settings():
    assert memory.reuse_freed_memory() is True
    big = torch.ones(8 << 20, dtype=torch.float64)  # 64 MB: above any mmap threshold
    total = float(big.sum())
    del big
    again = torch.full((8 << 20,), 2.0, dtype=torch.float64)
    assert total == 8 << 20 and float(again.sum()) == 2 * (8 << 20)
