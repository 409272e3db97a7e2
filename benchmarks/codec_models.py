#!/usr/bin/env python
"""Random-weight Llama models for the GPU machine's codec checks, which cannot carry a real model.

``smollm2-shape``: SmolLM2-135M's shape (for speed: the same work per token as the real model).
``small``: a 4-layer model small enough to carry (13 MB), its weights drawn wide so that its distributions are
far from uniform (for the cross-device round trip: a file written on one machine, decoded on the other).
Both take SmolLM2's tokenizer folder, copied file by file so that the model's files hash the same anywhere::

    python benchmarks/codec_models.py small .gpu/tokenizer .gpu/small-model
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

SHAPES = {
    "smollm2-shape": dict(
        hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3
    ),
    "small": dict(
        hidden_size=64,
        intermediate_size=192,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        initializer_range=0.2,
    ),
}


def build(shape: str, tokenizer: Path, dest: Path, seed: int = 0) -> Path:
    """A Llama model of ``shape`` with seeded random weights and ``tokenizer``'s files, saved in ``dest``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=49152, tie_word_embeddings=True, rope_theta=1e5, max_position_embeddings=8192, **SHAPES[shape]
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(dest)
    for path in tokenizer.iterdir():
        if path.is_file():
            shutil.copy(path, dest / path.name)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("tokenizer", type=Path, help="a saved tokenizer folder (ids below 49152)")
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    print(build(args.shape, args.tokenizer, args.dest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
