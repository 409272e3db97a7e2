#!/usr/bin/env python
"""Largest relative differences between the plugin and plain-PyTorch references, on tiny random models.

Two tiny random Llama models are built here, one whose tokenizer adds no BOS and one whose tokenizer adds
``<s>`` (byte-level BPE tokenizers trained on the shipped sample).  The plugin scores the sample's documents,
cut to their first ``--doc-chars`` characters, through the real harness; the references score the same
token ids with full logits and a float32 log-softmax per window:

  document protocol  every document on its own (cc and python), block/stride 32/8, 24/24, 16/1, 20/7 and
                     256/64, window BOS off and on; the reference is ``document_reference`` below;
  paper protocol     the arxiv_math stream, 32/8, 24/24 and 20/7; the reference is the throughput
                     benchmark's plain loop (``throughput_methods.run_reference``).

    python benchmarks/parity.py
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch
import torch.nn.functional as F
from throughput_methods import run_reference

from lm_eval_compression import CORPORA, demo
from lm_eval_compression.harness.discovery import tasks_dir

DOCUMENT_SETTINGS = [(32, 8), (24, 24), (16, 1), (20, 7), (256, 64)]
PAPER_SETTINGS = [(32, 8), (24, 24), (20, 7)]
DOCUMENT_CORPORA = ("cc", "python")
PAPER_CORPUS = "arxiv_math"
MAX_POSITIONS = 256


def write_sample(folder: Path, doc_chars: int) -> dict[str, list[str]]:
    """The shipped sample's documents cut to ``doc_chars`` characters, written as ``<name>.jsonl``."""
    corpora = {}
    folder.mkdir(parents=True, exist_ok=True)
    for name in CORPORA:
        with open(demo.sample_dir() / f"{name}.jsonl", encoding="utf-8") as f:
            docs = [json.loads(line)["content"][:doc_chars] for line in f]
        corpora[name] = [d for d in docs if d]
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for text in corpora[name]:
                f.write(json.dumps({"content": text}, ensure_ascii=False) + "\n")
    return corpora


def build_tiny_model(folder: Path, texts: list[str], add_bos: bool, seed: int) -> str:
    """A 2-layer random Llama and a 400-token byte-level BPE trained on ``texts``, saved in ``folder``.
    With ``add_bos`` the tokenizer puts ``<s>`` before every text, as Llama's and Gemma's do."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainer=trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=["<|endoftext|>", "<s>", "</s>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    if add_bos:
        bpe.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<|endoftext|>"
    )
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger weights than the init, so that predictions depend on the context
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.3)
    model.save_pretrained(folder)
    return str(folder)


def plugin_scores(lm, data_dir: Path, tasks: list[str], settings: dict) -> dict[str, list[float]]:
    """Per-document log-likelihoods of ``tasks`` from the plugin, run through ``simple_evaluate``."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    manager = TaskManager(
        include_path=tasks_dir(), include_defaults=False, metadata={"data_dir": str(data_dir), **settings}
    )
    with contextlib.redirect_stderr(io.StringIO()):  # the scorer's progress bars, one per task and setting
        results = simple_evaluate(model=lm, tasks=tasks, task_manager=manager, log_samples=True, bootstrap_iters=1000)
    return {
        task: [s["resps"][0][0]["loglikelihood"] for s in sorted(results["samples"][task], key=lambda s: s["doc_id"])]
        for task in tasks
    }


@torch.no_grad()
def document_reference(model, tokens: list[int], prefix: int, block: int, stride: int, bos: int | None) -> float:
    """One document, every token scored once: the first ``block`` tokens after ``prefix``, then spans of
    ``stride`` tokens, each read by the ``block`` inputs that end right before its last token (with
    ``bos``: that BOS and the last ``block - 1`` of them)."""
    inputs_all = [prefix] + tokens  # inputs_all[i] predicts tokens[i]
    total, end = 0.0, 0
    while end < len(tokens):
        start, end = end, min(block if end == 0 else end + stride, len(tokens))
        first = max(0, end - block)
        inputs = inputs_all[first:end] if bos is None or first == 0 else [bos] + inputs_all[first + 1 : end]
        logits = model(torch.tensor([inputs])).logits[0].float()
        logprobs = F.log_softmax(logits, dim=-1)[-(end - start) :]
        total += float(logprobs.gather(1, torch.tensor(tokens[start:end])[:, None]).double().sum())
    return total


def relative_difference(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b))


def document_parity(lm, data_dir: Path, corpora: dict[str, list[str]]) -> tuple[int, float]:
    """(documents compared, largest relative difference) over the document-protocol settings."""
    tok, model = lm.tokenizer, lm.model
    compared, worst = 0, 0.0
    for block, stride in DOCUMENT_SETTINGS:
        for window_bos in (False, True):
            settings = {"block_size": block, "stride": stride, "window_bos": window_bos}
            scores = plugin_scores(lm, data_dir, [f"compression_{n}" for n in DOCUMENT_CORPORA], settings)
            for name in DOCUMENT_CORPORA:
                for got, text in zip(scores[f"compression_{name}"], corpora[name], strict=True):
                    ids = tok(text, add_special_tokens=False)["input_ids"]
                    bos = tok.bos_token_id if window_bos else None
                    expected = document_reference(model, ids, lm.prefix_token_id, block, stride, bos)
                    worst = max(worst, relative_difference(got, expected))
                    compared += 1
    return compared, worst


def paper_parity(lm, data_dir: Path, corpora: dict[str, list[str]]) -> float:
    """Largest relative difference of the paper protocol's corpus totals over its settings."""
    worst = 0.0
    for block, stride in PAPER_SETTINGS:
        settings = {"block_size": block, "stride": stride, "protocol": "paper"}
        got = math.fsum(
            plugin_scores(lm, data_dir, [f"compression_{PAPER_CORPUS}"], settings)[f"compression_{PAPER_CORPUS}"]
        )
        expected = run_reference(
            lm.model, lm.tokenizer, {PAPER_CORPUS: corpora[PAPER_CORPUS]}, block, stride, {PAPER_CORPUS: 1}, lm.device
        )["loglikelihood"]
        worst = max(worst, relative_difference(got, expected))
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doc-chars", type=int, default=400, help="characters kept of each sample document")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    torch.set_num_threads(1)  # the models are tiny: more threads only wait on each other
    from lm_eval.models.huggingface import HFLM

    with tempfile.TemporaryDirectory(prefix="parity-") as root:
        corpora = write_sample(Path(root) / "corpus", args.doc_chars)
        texts = [t for docs in corpora.values() for t in docs]
        worst_document = worst_paper = 0.0
        documents = 0
        for seed, add_bos in enumerate((False, True)):
            folder = build_tiny_model(Path(root) / f"model-{seed}", texts, add_bos, seed)
            lm = HFLM(pretrained=folder, dtype="float32", device="cpu", batch_size=1)
            compared, worst = document_parity(lm, Path(root) / "corpus", corpora)
            documents += compared
            worst_document = max(worst_document, worst)
            worst_paper = max(worst_paper, paper_parity(lm, Path(root) / "corpus", corpora))
    print(f"document protocol: {documents} document comparisons, max relative difference {worst_document:.2e}")
    print(f"paper protocol: max relative difference of corpus totals {worst_paper:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
