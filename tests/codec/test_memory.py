"""The commands' malloc settings: glibc accepts every one (mallopt answers 1), and large tensors still allocate
and free after them. Checked in a fresh process, so that this test process keeps glibc's defaults (with the
settings, it would hold its peak memory for every later test, and the processes it starts inherit that peak in
their ``ru_maxrss``)."""

import subprocess
import sys

import pytest

CHECK = """
import torch
from lm_eval_compression.codec import memory
assert memory.reuse_freed_memory() is True
big = torch.ones(8 << 20, dtype=torch.float64)  # 64 MB: above any mmap threshold
total = float(big.sum())
del big
again = torch.full((8 << 20,), 2.0, dtype=torch.float64)
assert total == 8 << 20 and float(again.sum()) == 2 * (8 << 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_glibc_accepts_the_settings():
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
