"""Failures end cleanly: non-finite scores, out of memory, unsupported model types, a first run offline."""

import math
import re
from pathlib import Path

import pytest
import torch

from lm_eval_compression.engine.planning import CompressionRequestError
from lm_eval_compression.engine.scoring import OutOfMemory
from lm_eval_compression.harness import wrapper
from lm_eval_compression.harness.task import CorpusError
from tests.support.api import evaluate, load_lm, per_doc
from tests.support.cli import TASKS_DIR, run_lm_eval
from tests.support.corpora import write_corpus
from tests.support.models import make_tiny_model

META = {"block_size": 32, "stride": 8}
POISON = "🙂"


def nan_model(path, docs, poisoned_doc):
    """A tiny model whose input embedding of a token found only in ``docs[poisoned_doc]`` is NaN: every
    prediction from that token on is NaN."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = make_tiny_model(path, add_bos=False, seed=3)
    tok = AutoTokenizer.from_pretrained(path)
    ids = [set(tok(d, add_special_tokens=False)["input_ids"]) for d in docs]
    others = set().union(*(x for i, x in enumerate(ids) if i != poisoned_doc))
    poison = min(ids[poisoned_doc] - others)
    model = AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        model.get_input_embeddings().weight[poison] = float("nan")
    model.save_pretrained(path)
    return path


def test_non_finite_log_probability_stops_the_run_naming_document_and_window(tmp_path):
    words = "clean words only here and there " * 12
    docs = [words, words + " then a " + POISON + " and more text after it " * 4, words]
    model = nan_model(tmp_path / "nan", docs, 1)
    folder = write_corpus(tmp_path / "c", {"cc": docs})
    results, proc = run_lm_eval(
        [
            "--model",
            "hf",
            "--model_args",
            f"pretrained={model},dtype=float32",
            "--tasks",
            "compression_cc",
            "--include_path",
            str(TASKS_DIR),
            "--device",
            "cpu",
            "--metadata",
            f'{{"data_dir": "{folder}", "block_size": 32, "stride": 8}}',
        ],
        cwd=tmp_path / "run",
        check=False,
    )
    assert proc.returncode != 0 and results is None  # no results file at all
    err = proc.stderr
    assert "task compression_cc: non-finite log-probability" in err
    assert f"in document 1 ({docs[1][:60]!r})" in err
    assert re.search(r"window \d+ of \d+ \(tokens \d+\.\.\d+", err)


def test_out_of_memory_with_auto_halves_the_batch_and_matches(tiny_models, corpus_dir, monkeypatch, caplog):
    lm = load_lm(tiny_models["plain"], "auto")
    reference = evaluate(load_lm(tiny_models["plain"]), ["compression_python"], {"data_dir": corpus_dir, **META})
    real = lm.model.forward
    rows_seen = []

    def forward(*args, input_ids=None, **kwargs):
        rows_seen.append(input_ids.shape[0])
        if input_ids.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(lm.model, "forward", forward)
    with caplog.at_level("WARNING"):
        res = evaluate(lm, ["compression_python"], {"data_dir": corpus_dir, **META})
    run = res["configs"]["compression_python"]["compression"]["run"]
    assert run["out_of_memory_retries"] >= 1 and max(rows_seen) > 2
    warnings = [r for r in caplog.records if "out of memory" in r.getMessage()]
    assert 1 <= len(warnings) == run["out_of_memory_retries"]
    got, want = res["results"]["compression_python"], reference["results"]["compression_python"]
    # Other batch compositions than the batch-1 reference: float32 agreement, as in test_parity's batch test.
    assert math.isclose(got["bpc,none"], want["bpc,none"], rel_tol=1e-6)
    for a, b in zip(per_doc(res, "compression_python"), per_doc(reference, "compression_python")):
        assert math.isclose(a["loglikelihood"], b["loglikelihood"], rel_tol=1e-6)


def test_out_of_memory_with_fixed_batch_size_suggests_auto(tiny_models, corpus_dir, monkeypatch):
    lm = load_lm(tiny_models["plain"], "4")
    real = lm.model.forward

    def forward(*args, input_ids=None, **kwargs):
        if input_ids.shape[0] > 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(lm.model, "forward", forward)
    with pytest.raises(OutOfMemory, match=r"use --batch_size auto .* or a smaller --batch_size"):
        evaluate(lm, ["compression_python"], {"data_dir": corpus_dir, **META})


def test_auto_batch_size_on_cpu_comes_from_free_memory(tiny_models, corpus_dir, monkeypatch):
    import psutil

    lm = load_lm(tiny_models["plain"], "auto")
    assert 1 <= wrapper.cpu_batch_size(lm, 1900) <= wrapper.CPU_MAX_BATCH

    class Little:
        available = 64 * 1024 * 1024

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Little())
    # 32 MiB usable, 1900 positions of a 400-token vocabulary in float32 plus activations: a few windows.
    per_window = 2 * 1900 * 4 * (len(lm.tokenizer) + 8 * 32 + 2 * 64)
    assert wrapper.cpu_batch_size(lm, 1900) == max(1, int(Little.available * 0.5 // per_window))
    res = evaluate(lm, ["compression_python"], {"data_dir": corpus_dir, **META})
    assert res["configs"]["compression_python"]["compression"]["run"]["batch_size"] >= 1


def test_unsupported_model_type_is_refused_before_scoring(corpus_dir, tmp_path):
    results, proc = run_lm_eval(
        [
            "--model",
            "dummy",
            "--tasks",
            "compression_cc",
            "--include_path",
            str(TASKS_DIR),
            "--metadata",
            f'{{"data_dir": "{corpus_dir}"}}',
        ],
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode != 0 and results is None
    assert "--model dummy (DummyLM) cannot score compression tasks (compression_cc); use --model hf" in proc.stderr


def test_template_lm_subclass_is_refused_with_its_name(corpus_dir):
    from lm_eval.api.model import TemplateLM

    class OtherBackend(TemplateLM):
        tokenizer_name = "other"

        def __init__(self):
            super().__init__()

        @property
        def eot_token_id(self):
            return 0

        def tok_encode(self, string, **kwargs):
            return [ord(c) for c in string]

        def _loglikelihood_tokens(self, requests, **kwargs):
            raise AssertionError("scored")

        def loglikelihood_rolling(self, requests, disable_tqdm=False):
            raise AssertionError("scored")

        def generate_until(self, requests, disable_tqdm=False):
            raise AssertionError("generated")

    with pytest.raises(CompressionRequestError, match=r"--model OtherBackend \(OtherBackend\) cannot score"):
        evaluate(OtherBackend(), ["compression_cc"], {"data_dir": corpus_dir, **META})


def test_offline_without_data_dir_names_data_dir_and_file(tiny_models, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(CorpusError, match=r"Offline, put cc\.jsonl .* --metadata '\{\"data_dir\""):
        evaluate(load_lm(tiny_models["plain"]), ["compression_cc"], dict(META))


def test_fresh_missing_file_names_the_uncheatable_schema(tiny_models, tmp_path):
    with pytest.raises(CorpusError, match=r"UncheatableEval-2026-07\.jsonl .*schema of Jellyfish042/UncheatableEval"):
        evaluate(load_lm(tiny_models["plain"]), ["compression_fresh_cc"], {"data_dir": str(tmp_path), **META})


def test_wrong_field_type_reads_an_int(tiny_models, tmp_path):
    (Path(tmp_path) / "cc.jsonl").write_text('{"content": 5}\n{"content": "text"}\n')
    with pytest.raises(CorpusError, match=r"has an int in 'content'"):
        evaluate(load_lm(tiny_models["plain"]), ["compression_cc"], {"data_dir": str(tmp_path), **META})
