"""The four ways the throughput benchmark scores a corpus, and the planning-only padding report.

  plugin-paper / plugin-document   the plugin through the harness's HF wrapper (``run_plugin``);
  reference-paper(-ce)             a plain PyTorch loop over the paper protocol's windows (``run_reference``);
  stock-rolling                    the harness's own disjoint ``HFLM.loglikelihood_rolling`` (``run_stock``).

Each returns the total log-likelihood and the work it did (scored, input and padded tokens, windows,
causal query-key pairs), so that one FLOP formula credits every method alike.
"""

from __future__ import annotations

import contextlib
import io
import math

import torch
import torch.nn.functional as F
from lm_eval import utils
from lm_eval.api.instance import Instance

from lm_eval_compression.engine.corpus import corpus_sha256
from lm_eval_compression.engine.settings import WindowSettings
from lm_eval_compression.engine.windows import batch_shape, causal_pairs, document_windows, plan_window_batches
from lm_eval_compression.harness.requests import RequestSettings, stream_fingerprint
from lm_eval_compression.harness.wrapper import window_bos_for


def compression_instances(corpora: dict[str, list[str]], block: int, stride: int, protocol: str):
    """Requests as CompressionTask.construct_requests builds them (one task per corpus)."""
    out = []
    windows = WindowSettings.parse({"block_size": block, "stride": stride, "protocol": protocol})
    for name, texts in corpora.items():
        settings = RequestSettings(windows)
        if protocol == "paper":
            settings = RequestSettings(windows, None, stream_fingerprint(corpus_sha256(texts), windows), len(texts))
        for doc_id, text in enumerate(texts):
            arguments = settings.to_args(doc_id if protocol == "paper" else None)
            out.append(
                Instance(
                    request_type="loglikelihood_rolling",
                    doc={"content": text},
                    arguments=(text, arguments),
                    idx=0,
                    metadata=(f"compression_{name}", doc_id, 1),
                )
            )
    return out


def run_plugin(lm, corpora, block, stride, protocol) -> dict:
    """The plugin through the wrapped ``HFLM.loglikelihood_rolling``, with the run statistics each
    response carries added up over the tasks."""
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
        "batch_sizes": {name: s["batch_size"] for name, s in zip(corpora, stats, strict=True)},
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
            windows = range(first, min(first + batch_size, count))
            x = torch.stack([stream[w * stride : w * stride + block + 1] for w in windows]).to(device)
            labels = x[:, 1:]
            mask = torch.ones_like(labels, dtype=torch.bool)
            for row, w in enumerate(windows):
                n_scored = block if w == 0 else stride  # the first window scores all, later ones their last stride
                mask[row, : block - n_scored] = False
                scored += n_scored
            logits = model(input_ids=x[:, :-1], use_cache=False).logits.float()
            if loss == "cross_entropy":
                nll = F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]),
                    labels.masked_fill(~mask, -100).reshape(-1),
                    ignore_index=-100,
                    reduction="sum",
                )
                total -= nll.double()
            else:
                logprobs = logits.gather(-1, labels[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)
                total += logprobs[mask].sum().double()
            del logits
            n_windows += len(windows)
            batches += 1
    return {
        "loglikelihood": float(total),
        "scored_tokens": scored,
        "input_tokens": n_windows * block,
        "attention_pairs": n_windows * causal_pairs([block]),
        "padded_tokens": 0,
        "windows": n_windows,
        "batches": batches,  # equal-length windows: no padding
        "batch_size": max(batch_sizes.values()),
    }


def stock_plan(lm, texts, block, batch_size) -> tuple[int, int, int, int, int]:
    """(scored tokens, input tokens, padded tokens, windows, causal query-key pairs) of the stock
    disjoint rolling windows."""
    lengths, scored = [], 0
    for text in texts:
        tokens = lm.tok_encode(text)
        scored += len(tokens)
        for ctx, cont in map(
            utils.make_disjoint_window,
            utils.get_rolling_token_windows(
                token_list=tokens, prefix_token=lm.prefix_token_id, max_seq_len=block, context_len=1
            ),
        ):
            lengths.append(min(len(ctx) + len(cont) - 1, block))
    padded = 0
    for i in range(0, len(lengths), batch_size):  # each batch is padded to its longest window
        part = lengths[i : i + batch_size]
        padded += len(part) * max(part) - sum(part)
    return scored, sum(lengths), padded, len(lengths), causal_pairs(lengths)


def stock_work(lm, corpora, block) -> dict:
    """The work of ``run_stock``, recomputed from its windows and batches (padding unknown with auto batch size)."""
    texts = [t for docs in corpora.values() for t in docs]
    batch_size = 1 if lm.batch_size == "auto" else int(lm.batch_size)
    scored, inputs, padded, n_windows, pairs = stock_plan(lm, texts, block, batch_size)
    return {
        "scored_tokens": scored,
        "input_tokens": inputs,
        "windows": n_windows,
        "batch_size": lm.batch_size,
        "attention_pairs": pairs,
        "padded_tokens": None if lm.batch_size == "auto" else padded,
    }


def run_stock(lm, corpora, block, quiet=True) -> dict:
    """The harness's stock disjoint rolling log-likelihood with ``max_length = block``."""
    texts = [t for docs in corpora.values() for t in docs]
    requests = [
        Instance(
            request_type="loglikelihood_rolling", doc={"content": t}, arguments=(t,), idx=0, metadata=("stock", i, 1)
        )
        for i, t in enumerate(texts)
    ]
    saved = lm._max_length
    lm._max_length = block
    try:
        # The stock path draws a progress bar for every batch, whatever disable_tqdm says.
        with contextlib.redirect_stderr(io.StringIO()) if quiet else contextlib.nullcontext():
            out = lm.loglikelihood_rolling(requests, disable_tqdm=True)
    finally:
        lm._max_length = saved
    return {"loglikelihood": math.fsum(out)}


def planned_document_padding(lm, corpora, block, stride, batch_sizes) -> dict:
    """Padding fraction of the plugin's document-protocol batches (no model run): the windows and
    batches that harness.runner.score_requests would plan task by task (one task per corpus), for several
    batch sizes; the batch size sets a token budget of batch_size * longest window of the task."""
    use_bos, _ = window_bos_for(lm, "auto")
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
        out[bs] = {
            "windows": n_windows,
            "input_tokens": inputs,
            "padding_fraction": (computed - inputs) / computed,
            "scored_tokens": scored,
            "head_rows": head_rows,
        }
    return out
