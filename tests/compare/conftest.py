"""Real ``lm_eval`` runs of two tiny models with different tokenizers (vocabularies of 400 with BOS and 300
without) on one small corpus whose documents carry a subdomain field, logged with samples and per-token
records, and the ``compare`` command's output on them: once per session, shared by the compare tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_compression.compare import command
from tests.support.cli import TASKS_DIR, run_lm_eval
from tests.support.corpora import sample_docs
from tests.support.models import make_tiny_model

# several windows per document, both protocols
WINDOWS = {"block_size": 48, "stride": 16}
UNICODE = "Ünïcödé text: 東京 🙂 naïve Straße — "


def write_corpus(folder: Path) -> Path:
    """Three corpora; ``meta.kind`` alternates between two values; one document mostly non-ASCII."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = {
        "cc": sample_docs(11, 5, 60) + [UNICODE * 4],
        "python": sample_docs(12, 4, 70),
        "arxiv_math": sample_docs(13, 4, 70),
    }
    for name, docs in texts.items():
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for i, text in enumerate(docs):
                row = {"content": text, "subset": name, "meta": {"kind": ["short", "long"][i % 2]}}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return folder


def lm_eval_run(model: str, data: Path, cwd: Path, tasks: str, **metadata) -> Path:
    settings = {"data_dir": str(data), "token_records": str(cwd / "records"), **WINDOWS, **metadata}
    run_lm_eval(
        [
            *("--model", "hf", "--model_args", f"pretrained={model},dtype=float32"),
            *("--tasks", tasks, "--include_path", str(TASKS_DIR), "--device", "cpu", "--log_samples"),
            *("--metadata", json.dumps(settings)),
        ],
        cwd=cwd,
    )
    return cwd / "out"


@pytest.fixture(scope="session")
def compare_runs(tiny_models, tmp_path_factory):
    """``{"document": (run A, run B) output folders, "paper": (results A, results B) in process, ...}``:
    A is the tiny BOS model (vocabulary 400), B a model whose tokenizer has a vocabulary of 300 and no BOS."""
    root = tmp_path_factory.mktemp("compare_runs")
    data = write_corpus(root / "data")
    other = make_tiny_model(root / "vocab300", vocab_size=300, seed=2)
    models = {"a": tiny_models["bos"], "b": other}
    return {
        "document": tuple(
            lm_eval_run(models[k], data, root / f"document_{k}", "compression", group_by="meta.kind") for k in "ab"
        ),
        "paper": tuple(paper_run(models[k], data, root / f"paper_{k}") for k in "ab"),
    }


def paper_run(model: str, data: Path, folder: Path) -> dict:
    """``compression_python`` in the ``paper`` protocol, in process (windows cross documents here)."""
    from tests.support.api import evaluate, load_lm

    settings = {"data_dir": str(data), "token_records": str(folder), "protocol": "paper", **WINDOWS}
    return evaluate(load_lm(model), ["compression_python"], settings)


@pytest.fixture(scope="session")
def compared(compare_runs, tmp_path_factory):
    """The ``compare`` command on the document runs: ``{"out": folder, "json": its compare.json}``."""
    out = tmp_path_factory.mktemp("compared")
    a, b = compare_runs["document"]
    assert command.main([str(a), str(b), "-o", str(out), "--top", "4"]) == 0
    return {"out": out, "json": json.loads((out / "compare.json").read_text())}
