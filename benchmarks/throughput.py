#!/usr/bin/env python
"""Throughput of strided compression scoring: the plugin against a plain PyTorch loop and the stock harness.

Scores the same documents with

  plugin-paper     the plugin through the harness's HF wrapper (``HFLM.loglikelihood_rolling`` routed to
                   ``lm_eval_compression.harness.runner.score_requests``), ``protocol=paper``: one token stream per
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

The parts: throughput_inputs (corpora, models), throughput_methods (the four ways of scoring),
throughput_meters (memory, CPU share, syncs), throughput_flops (MFU), throughput_report (table, targets).
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

# Before transformers or the hub client are imported: they read these once.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing the package

import torch
from throughput_flops import attention_shape, body_and_head, flops_formula
from throughput_inputs import RANDOM_LLAMAS, default_corpus_dir, load_lm, read_corpora
from throughput_meters import OtherProcessesCpuShare, PeakMemory, sync, sync_report
from throughput_methods import planned_document_padding, run_plugin, run_reference, run_stock, stock_work
from throughput_report import (
    compare_to_references,
    pct,
    print_padding_plan,
    print_sync_report,
    print_table,
    result_rows,
)

from lm_eval_compression import CORPORA

METHODS = ("plugin-paper", "reference-paper", "plugin-document", "stock-rolling")
EXTRA_METHODS = ("reference-paper-ce",)  # run only when named in --methods


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--model", default="smollm2", help=f"smollm2 | {' | '.join(RANDOM_LLAMAS)} | PATH to a local HF model folder"
    )
    p.add_argument("--tokenizer", help="tokenizer folder for the random-llama models (default: SmolLM2's)")
    p.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="folder of <name>.jsonl files (default: ../shared/corpora, else lm_eval_compression/data/sample)",
    )
    p.add_argument("--corpora", default=",".join(CORPORA), help="comma-separated corpus names")
    p.add_argument("--max-chars", type=int, default=15000, help="characters per corpus (whole documents)")
    p.add_argument("--block-size", type=int, default=1900)
    p.add_argument("--stride", type=int, default=512)
    p.add_argument("--batch-size", default=None, help="rows per batch or 'auto' (default: 1 on cpu, 16 on cuda)")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--dtype", default=None, help="default: float32 on cpu, bfloat16 on cuda")
    p.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma-separated, run in this order; from " + ",".join(METHODS + EXTRA_METHODS),
    )
    p.add_argument("--repeats", type=int, default=1, help="timed runs per method; the fastest is reported")
    p.add_argument(
        "--peak-tflops",
        type=float,
        default=790.0,
        help="peak dense FLOP/s of the accelerator for MFU, in TFLOP/s (790: H200 bf16)",
    )
    p.add_argument(
        "--plan-batch-sizes",
        default="1,4,16,64",
        help="batch sizes for the planned document-protocol padding report ('' to skip)",
    )
    p.add_argument(
        "--plan-max-chars",
        type=int,
        default=None,
        help="characters per corpus for the padding report (default: the whole corpus files)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--sync-check",
        choices=("auto", "on", "off"),
        default="auto",
        help="on CUDA, count synchronising calls in one extra, untimed plugin-paper run over the "
        "first corpus (auto: on for cuda)",
    )
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
    if (
        refs
        and args.batch_size == "auto"
        and ("plugin-paper" not in args.methods or args.methods.index("plugin-paper") > args.methods.index(refs[0]))
    ):
        p.error(
            "with --batch-size auto the reference loops take the batch sizes that plugin-paper detects: "
            "list plugin-paper before them in --methods"
        )
    return args


def quiet_logs(verbose: bool) -> None:
    """Unless ``verbose``, hide the harness's and transformers' logs and progress bars."""
    if verbose:
        return
    import transformers

    logging.disable(logging.WARNING)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    os.environ.setdefault("TQDM_DISABLE", "1")


def machine_facts(on_gpu: bool) -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if on_gpu else "cpu",
        "lm_eval": importlib.metadata.version("lm_eval"),
        "load_average_start": os.getloadavg(),
    }


def print_setup(model_desc, load_seconds, body, head, machine, corpus_dir, corpora, args) -> None:
    print(f"model: {model_desc}; loaded in {load_seconds:.1f}s; {body / 1e6:.1f}M body + {head / 1e6:.1f}M head params")
    print(
        f"machine: {machine['device']}, {machine['cpu_count']} CPUs, {machine['torch_threads']} torch threads, "
        f"torch {machine['torch']}, lm_eval {machine['lm_eval']}"
    )
    print(
        f"corpus: {corpus_dir} "
        + ", ".join(f"{n}: {len(d)} docs / {sum(map(len, d))} chars" for n, d in corpora.items())
    )
    print(f"windows: block_size={args.block_size} stride={args.stride} batch_size={args.batch_size} dtype={args.dtype}")


def cpu_share_before_run() -> float | None:
    """The CPU share other processes use over one idle second, with a note when CPU timings will suffer."""
    share = OtherProcessesCpuShare()
    share.start()
    time.sleep(1.0)
    busy = share.stop()
    if busy is not None and busy > 0.1:
        print(
            f"note: other processes used {100 * busy:.0f}% of the CPUs just before the run; "
            "CPU timings are then unreliable (see the 'others' column)"
        )
    return busy


def warm_up(lm, corpora, args) -> None:
    """One batch through each code path (allocator, kernels, threads) before timing."""
    batch_size = 1 if args.batch_size == "auto" else int(args.batch_size)
    first_doc = {n: d[:1] for n, d in list(corpora.items())[:1]}
    with torch.no_grad():
        ids = torch.ones((batch_size, args.block_size), dtype=torch.long, device=lm.device)
        lm.model(input_ids=ids, use_cache=False).logits.float().log_softmax(-1)
        del ids
    if "stock-rolling" in args.methods:
        run_stock(lm, first_doc, args.block_size, quiet=not args.verbose)
    if "plugin-document" in args.methods:
        run_plugin(lm, first_doc, args.block_size, args.stride, "document")
    sync(lm.device)


def run_method(method: str, lm, corpora, args, reference_batch_sizes) -> dict:
    """One call of ``method`` (the caller times it): its log-likelihood and the work it did."""
    block, stride = args.block_size, args.stride
    if method == "plugin-paper":
        return run_plugin(lm, corpora, block, stride, "paper")
    if method == "plugin-document":
        return run_plugin(lm, corpora, block, stride, "document")
    if method.startswith("reference-paper"):
        loss = "cross_entropy" if method == "reference-paper-ce" else "logsumexp"
        return run_reference(lm.model, lm.tokenizer, corpora, block, stride, reference_batch_sizes, lm.device, loss)
    return run_stock(lm, corpora, block, quiet=not args.verbose)


def keep_fastest(results: dict, method: str, run: dict, memory: float) -> None:
    """Record ``run`` in ``results``: the fastest run of a method is reported, with every run's seconds
    and the largest peak memory of all."""
    best = results.get(method)
    if best is None or run["seconds"] < best["seconds"]:
        run["all_seconds"] = (best or {}).get("all_seconds", []) + [run["seconds"]]
        run["peak_memory_mib"] = max(memory, (best or {}).get("peak_memory_mib", 0.0))
        results[method] = run
    else:
        best["all_seconds"].append(run["seconds"])
        best["peak_memory_mib"] = max(memory, best["peak_memory_mib"])


def time_methods(lm, corpora, args) -> tuple[dict[str, dict], str]:
    """Run every method ``args.repeats`` times, timed; return the results by method and how peak memory
    was measured.  The reference loops take the batch sizes plugin-paper used (they matter with auto)."""
    memory_meter, cpu_of_others = PeakMemory(lm.device), OtherProcessesCpuShare()
    results: dict[str, dict] = {}
    reference_batch_sizes = {name: None if args.batch_size == "auto" else int(args.batch_size) for name in corpora}
    for repeat in range(args.repeats):
        for method in args.methods:
            memory_meter.start()
            cpu_of_others.start()
            sync(lm.device)
            start = time.perf_counter()
            run = run_method(method, lm, corpora, args, reference_batch_sizes)
            sync(lm.device)
            run["seconds"] = time.perf_counter() - start
            memory = memory_meter.stop()
            run["other_cpu"] = cpu_of_others.stop()
            if method == "plugin-paper":
                reference_batch_sizes = run["batch_sizes"]
            if method == "stock-rolling":
                run.update(stock_work(lm, corpora, args.block_size))
            keep_fastest(results, method, run, memory)
            busy = "" if run["other_cpu"] is None else f" (other processes: {pct(run['other_cpu'], 0)} of the CPUs)"
            print(f"  [{repeat + 1}/{args.repeats}] {method}: {run['seconds']:.2f}s{busy}", flush=True)
    return results, memory_meter.how


def planned_padding(lm, corpus_dir: Path, names, args) -> dict | None:
    """The planning-only document-protocol padding report (printed), or None when it is skipped."""
    batch_sizes = [int(x) for x in args.plan_batch_sizes.split(",") if x.strip()]
    if not batch_sizes:
        return None
    corpora = read_corpora(corpus_dir, names, args.plan_max_chars or sys.maxsize)
    plan = planned_document_padding(lm, corpora, args.block_size, args.stride, batch_sizes)
    print_padding_plan(plan, sum(len(d) for d in corpora.values()), corpus_dir, args.plan_max_chars)
    return plan


def settings_record(args, device, corpus_dir: Path) -> dict:
    return {
        "block_size": args.block_size,
        "stride": args.stride,
        "batch_size": args.batch_size,
        "dtype": args.dtype,
        "device": str(device),
        "repeats": args.repeats,
        "peak_tflops": args.peak_tflops,
        "max_chars": args.max_chars,
        "corpus": str(corpus_dir),
    }


def write_json(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nwrote {path}")


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_logs(args.verbose)
    if args.threads:
        torch.set_num_threads(args.threads)
    from lm_eval_compression.harness import hooks as harness

    harness.install()
    corpus_dir = args.corpus or default_corpus_dir()
    if corpus_dir is None:
        raise SystemExit("no corpus: pass --corpus (../shared/corpora and lm_eval_compression/data/sample are absent)")
    names = [n.strip() for n in args.corpora.split(",") if n.strip()]
    corpora = read_corpora(corpus_dir, names, args.max_chars)

    start = time.perf_counter()
    lm, model_desc = load_lm(args)
    load_seconds = time.perf_counter() - start
    on_gpu = torch.device(lm.device).type == "cuda"
    body, head = body_and_head(lm.model)
    attention = attention_shape(lm.model.config)
    machine = machine_facts(on_gpu)
    print_setup(model_desc, load_seconds, body, head, machine, corpus_dir, corpora, args)
    machine["other_cpu_before"] = cpu_share_before_run()

    warm_up(lm, corpora, args)
    results, memory_how = time_methods(lm, corpora, args)
    machine["load_average_end"] = os.getloadavg()

    rows = result_rows(results, args.methods, body, head, attention, args.peak_tflops, on_gpu)
    print_table(rows, on_gpu, args.repeats, memory_how, flops_formula(body, head, attention), args.peak_tflops)
    summary = compare_to_references(results, args.dtype)
    syncs = None
    if on_gpu and args.sync_check != "off":
        first = dict(list(corpora.items())[:1])
        syncs = sync_report(lambda: run_plugin(lm, first, args.block_size, args.stride, "paper"))
        print_sync_report(syncs, next(iter(first)))
        summary["plugin_syncs"] = syncs["plugin_syncs"]
    plan = planned_padding(lm, corpus_dir, names, args)

    if args.json:
        report = {
            "model": args.model,
            "model_description": model_desc,
            "load_seconds": load_seconds,
            "params_body": body,
            "params_head": head,
            "machine": machine,
            "settings": settings_record(args, lm.device, corpus_dir),
            "corpora": {n: {"documents": len(d), "chars": sum(map(len, d))} for n, d in corpora.items()},
            "peak_memory_method": memory_how,
            "results": rows,
            "summary": summary,
            "sync_report": syncs,
            "attention_shape": attention,
            "planned_document_padding": plan,
        }
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
