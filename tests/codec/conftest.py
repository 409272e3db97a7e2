"""Fixtures of the codec tests: SmolLM2 round trips of real text (compress, decompress, and the task's bpc on
the same text), run once per scale and shared by the tests in ``test_compress_real.py``.

Coding is sequential (one model step per token on each side, 0.1 to 0.3 s of CPU per batched step for
SmolLM2-135M here), so the scale sets the cost:

- ``short`` (``make test``): the first 300 characters of one short document of each corpus, in one file
  coded three lanes side by side, at 32/16 windows (4 to 6 windows per document): under a minute.
- ``full`` (``make test-full``, marker ``full``): the first three documents of each corpus (about 20,000
  characters), one file per corpus, at the task's default 1900/512 windows: over an hour on 2 cores.
"""

import json
from dataclasses import dataclass

import pytest
import torch

from lm_eval_compression import demo
from lm_eval_compression.codec import commands as compress
from tests.support.api import evaluate

CORPORA = ("cc", "python", "arxiv_math")


@dataclass(frozen=True)
class Scale:
    """Per file name, its documents as (corpus, first line, lines); texts cut to ``max_chars``; the windows;
    and the coder's closing words that a 1 % bound cannot absorb at a few thousand bits (``slack_bits``)."""

    files: dict[str, tuple[tuple[str, int, int], ...]]
    max_chars: int | None
    block_size: int
    stride: int
    slack_bits: int


SCALES = {
    "short": Scale({"mixed": tuple((name, 2, 1) for name in CORPORA)}, 300, 32, 16, slack_bits=64),
    "full": Scale({name: ((name, 0, 3),) for name in CORPORA}, None, 1900, 512, slack_bits=0),
}


def sample_rows(parts, max_chars):
    """JSON rows of the shipped sample: ``lines`` lines from ``first`` of each corpus, texts cut to ``max_chars``."""
    rows = []
    for name, first, lines in parts:
        for line in (demo.sample_dir() / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()[first:][:lines]:
            row = json.loads(line)
            row["content"] = row["content"][:max_chars]
            rows.append(row)
    return rows


@pytest.fixture(scope="session", params=["short", pytest.param("full", marks=pytest.mark.full)])
def real_round_trips(request, smollm2, tmp_path_factory):
    """Per file: its texts, the task's bpc on it (the harness, same windows), and the compress/decompress
    results of SmolLM2 (4 lanes, one CPU thread)."""
    scale = SCALES[request.param]
    model_args, lm = smollm2
    folder = tmp_path_factory.mktemp(f"round_trips_{request.param}")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # one token per step: a second thread mostly waits, and slows a shared machine
    trips = {}
    try:
        settings = compress.resolve_windows(lm, scale.block_size, scale.stride, "auto")
        for name, parts in scale.files.items():
            rows = sample_rows(parts, scale.max_chars)
            path = folder / f"{name}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            meta = {
                "data_dir": str(folder),
                "data_file": path.name,
                "block_size": scale.block_size,
                "stride": scale.stride,
            }
            task_bpc = evaluate(lm, ["compression_cc"], meta)["results"]["compression_cc"]["bpc,none"]
            corpus = compress.read_corpus(path)
            data, header, run = compress.compress_corpus(lm, model_args, corpus, settings, lanes=4, name=path.name)
            back, info = compress.decompress_corpus(lm, data, f"{name}.lmz")
            texts = [r["content"] for r in rows]
            trips[name] = {"texts": texts, "task_bpc": task_bpc, "corpus": corpus, "header": header, "run": run}
            trips[name].update(back=back, info=info)
    finally:
        torch.set_num_threads(before)
    return {"scale": scale, "trips": trips}


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory):
    """One cache of de-quantised GGUF models for the tests that load SmolLM2 through ``commands.load_lm``."""
    return tmp_path_factory.mktemp("model_cache")
