"""The throughput benchmark runs end to end and its plugin and reference loops agree (no timing asserted)."""

import json
import subprocess
import sys

from helpers import REPO


def test_benchmark_runs_and_plugin_matches_its_reference(tmp_path):
    out = tmp_path / "bench.json"
    subprocess.run([
        sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--model", "random-llama-tiny",
        "--corpus", str(REPO / "lm_eval_compression" / "data" / "sample"), "--max-chars", "1200", "--corpora", "cc",
        "--block-size", "64", "--stride", "16", "--methods", "plugin-paper,reference-paper,plugin-document,stock-rolling",
        "--plan-batch-sizes", "1,64", "--json", str(out),
    ], check=True, capture_output=True, text=True, timeout=600)
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert summary["same_scored_tokens_as_reference-paper"] is True
    assert summary["relative_difference_to_reference-paper"] <= 1e-6
    rows = {r["method"]: r for r in report["results"]}
    assert rows["plugin-document"]["scored_tokens"] == rows["stock-rolling"]["scored_tokens"]
    assert rows["plugin-paper"]["scored_tokens"] == rows["reference-paper"]["scored_tokens"] > 0
    for plan in report["planned_document_padding"].values():
        padding = plan["padding_fraction"] if isinstance(plan, dict) else plan
        assert padding < 0.05
