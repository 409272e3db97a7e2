"""The throughput benchmark's derived figures and printed report: the table, the comparison with the
reference loops against the targets, the sync report and the planned padding."""

from __future__ import annotations

from throughput_flops import model_flops


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def pct(value, digits: int = 2) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def result_rows(
    results: dict[str, dict], methods, body: int, head: int, attention, peak_tflops: float, on_gpu: bool
) -> list[dict]:
    """The measured results of ``methods`` in order, each completed with its rates, padding fraction,
    model FLOPs and (on a GPU) MFU and scored tokens/s at 100 % MFU."""
    for method, r in results.items():
        r["method"] = method
        r["scored_tokens_per_second"] = r["scored_tokens"] / r["seconds"]
    ref = results.get("reference-paper") or results.get("reference-paper-ce")
    rows = []
    for method in methods:
        r = results[method]
        r["ratio_to_reference"] = (r["scored_tokens_per_second"] / ref["scored_tokens_per_second"]) if ref else None
        if r["padded_tokens"] is None:
            r["padding_fraction"] = None
        else:
            computed = r["input_tokens"] + r["padded_tokens"]
            r["padding_fraction"] = r["padded_tokens"] / computed if computed else 0.0
        r["nll_per_token"] = -r["loglikelihood"] / r["scored_tokens"]
        # The same formula for every method: the work it has to do, not what it happens to compute.
        r["model_flops"] = model_flops(
            body, head, attention, r["input_tokens"], r["scored_tokens"], r["attention_pairs"]
        )
        r["mfu"] = r["model_flops"] / r["seconds"] / (peak_tflops * 1e12) if on_gpu else None
        r["limit_tokens_per_second"] = r["scored_tokens"] * peak_tflops * 1e12 / r["model_flops"] if on_gpu else None
        rows.append(r)
    return rows


def print_table(
    rows: list[dict], on_gpu: bool, repeats: int, memory_how: str, flops_formula: str, peak_tflops: float
) -> None:
    mem_label = "peak MiB" + (" (GPU)" if on_gpu else " (RSS)")
    header = (
        f"{'method':<16} {'scored tok':>10} {'input tok':>10} {'seconds':>8} {'scored tok/s':>12} "
        f"{'vs ref':>7} {mem_label:>15} {'padding':>8} {'MFU':>6} {'limit tok/s':>11} {'nll/tok':>8} "
        f"{'others':>6}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['method']:<16} {r['scored_tokens']:>10d} {r['input_tokens']:>10d} {r['seconds']:>8.2f} "
            f"{r['scored_tokens_per_second']:>12.1f} {fmt(r['ratio_to_reference'], '>6.2f') + 'x':>7} "
            f"{r['peak_memory_mib']:>15.1f} {pct(r['padding_fraction']):>8} "
            f"{pct(r['mfu'], 1):>6} {fmt(r['limit_tokens_per_second'], '>11.0f'):>11} "
            f"{r['nll_per_token']:>8.4f} {pct(r['other_cpu'], 0):>6}"
        )
    print(
        f"seconds: fastest of {repeats}; peak memory: {memory_how}; "
        "padding: padded / (input + padded) tokens of the batches run;\n"
        f"MFU: ({flops_formula}) / s / {peak_tflops:g} TFLOP/s; limit: scored tok/s at 100% MFU;\n"
        "others: CPU share used by other processes during that run"
    )


def compare_to_references(results: dict[str, dict], dtype: str) -> dict:
    """Print plugin-paper's total against each reference loop and the speed and padding targets;
    return the summary figures."""
    summary = {}
    plugin = results.get("plugin-paper")
    if plugin:
        print(f"\ntotal log-likelihood (nats): plugin-paper {plugin['loglikelihood']:.6f}")
    for name in ("reference-paper", "reference-paper-ce"):
        reference = results.get(name)
        if not (plugin and reference):
            continue
        rel = abs(plugin["loglikelihood"] - reference["loglikelihood"]) / abs(reference["loglikelihood"])
        same = plugin["scored_tokens"] == reference["scored_tokens"]
        ok = rel <= 1e-6 and same
        tokens = f"{reference['scored_tokens']} scored tokens" + ("" if same else f", plugin {plugin['scored_tokens']}")
        verdict = ("OK" if ok else "NOT OK") if dtype == "float32" else f"{dtype}: informational"
        print(
            f"{'':29}{name} {reference['loglikelihood']:.6f}; relative difference {rel:.3e} "
            f"({verdict}: <= 1e-6 in float32, same {tokens})"
        )
        summary[f"relative_difference_to_{name}"] = rel
        summary[f"same_scored_tokens_as_{name}"] = same
    reference = results.get("reference-paper") or results.get("reference-paper-ce")
    if plugin and reference:
        speed = plugin["scored_tokens_per_second"] / reference["scored_tokens_per_second"]
        print(
            f"plugin-paper speed: {speed:.3f}x {reference['method']} (target >= 1.0x): "
            f"{'OK' if speed >= 1.0 else 'BELOW'}"
        )
        summary["paper_speed_ratio"] = speed
    if "plugin-document" in results:
        document = results["plugin-document"]
        fraction = document["padding_fraction"]
        print(
            f"plugin-document padding (this run, batch size {document['batch_size']}): "
            f"{100 * fraction:.2f}% of computed tokens (target < 5%): {'OK' if fraction < 0.05 else 'ABOVE'}"
        )
        summary["document_padding_fraction"] = fraction
    return summary


def print_sync_report(syncs: dict, corpus: str) -> None:
    print(
        f"\nhost syncs in one plugin-paper run over {corpus} ({syncs['batches']} batches): "
        f"{syncs['syncs']} in all, {syncs['plugin_syncs']} from lm_eval_compression"
    )
    for line, n in list(syncs["by_line"].items())[:8]:
        print(f"  {n:>5}  {line}")


def print_padding_plan(plan: dict, n_docs: int, corpus_dir, plan_max_chars: int | None) -> None:
    extent = "all of each file" if not plan_max_chars else f"{plan_max_chars} chars per corpus"
    print(
        f"\nplanned padding of the plugin's document protocol on {n_docs} documents of {corpus_dir} "
        f"({extent}; no model run):"
    )
    for batch_size, p in plan.items():
        print(
            f"  batch size {batch_size:>3}: {p['windows']} windows, {p['input_tokens']} input tokens, "
            f"padding {100 * p['padding_fraction']:.2f}%, output head over "
            f"{p['head_rows'] / p['scored_tokens']:.3f}x the scored tokens"
        )
