"""SmolLM2-135M compresses slices of the shipped sample corpora to within 1 % of the bpc that the
compression task reports for the same text and settings, and decompresses them byte for byte.

Coding is sequential (one model step per token on each side, 0.1 to 0.3 s of CPU per batched step for
this model here), so by default the test takes two short documents of each corpus (2,150 to 3,000
characters) with block_size 256 and stride 128, which still strides over several windows per document.
``COMPRESS_REAL_FULL=1`` takes the first three documents (about 20,000 characters) with the task's
default 1900/512 windows instead (73 minutes for the three corpora on a 2-core machine).
"""

import json
import os

import pytest

from lm_eval_compression import demo
from lm_eval_compression.codec import commands as compress
from tests.support.api import evaluate
from tests.support.smollm2 import smollm2_gguf_or_skip

pytestmark = [pytest.mark.real_model, pytest.mark.slow]
CORPORA = ("cc", "python", "arxiv_math")
FULL = os.environ.get("COMPRESS_REAL_FULL") == "1"
DOCS = slice(0, 3) if FULL else slice(2, 4)
BLOCK, STRIDE = (1900, 512) if FULL else (256, 128)


@pytest.fixture(scope="module")
def smollm2():
    gguf = smollm2_gguf_or_skip()
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # one token per step: a second thread mostly waits, and slows a shared machine
    model_args = demo.model_args(gguf)
    yield model_args, compress.load_lm(model_args, "cpu")
    torch.set_num_threads(before)


def test_smollm2_round_trip_reaches_the_task_bpc(smollm2, tmp_path):
    model_args, lm = smollm2
    texts = {}
    for name in CORPORA:
        lines = (demo.sample_dir() / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()[DOCS]
        (tmp_path / f"{name}.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        texts[name] = [json.loads(line)["content"] for line in lines]
    # the task's bpc through the harness, on exactly these documents and settings
    results = evaluate(
        lm, [f"compression_{n}" for n in CORPORA], {"data_dir": str(tmp_path), "block_size": BLOCK, "stride": STRIDE}
    )
    settings = compress.resolve_windows(lm, BLOCK, STRIDE, "auto")
    tables = []
    for name in CORPORA:
        task_bpc = results["results"][f"compression_{name}"]["bpc,none"]
        corpus = compress.read_corpus(tmp_path / f"{name}.jsonl")
        assert corpus.texts == texts[name]
        data, facts = compress.compress_corpus(lm, model_args, corpus, settings, lanes=4, name=f"{name}.jsonl")
        back, info = compress.decompress_corpus(lm, data, f"{name}.lmz")
        assert [t.encode("utf-8") for t in back.texts] == [t.encode("utf-8") for t in texts[name]]
        facts["baselines"] = compress.baselines(corpus.texts)
        header = info["header"]
        report = compress.build_report(header, facts, task_bpc, {"seconds": info["seconds"], "identical": True})
        tables.append(compress.report_table(report))
        chars = sum(len(t) for t in texts[name])
        assert report["chars"] == chars
        # the range coder's output is within 1 % of the task's bpc; the whole file adds only the small header
        assert abs(report["bpc_payload"] - task_bpc) / task_bpc < 0.01, (name, report["bpc_payload"], task_bpc)
        assert report["header_bits"] <= 8 * 48
        assert report["bpc_achieved"] == pytest.approx(report["bpc_payload"] + report["header_bits"] / chars)
        # the coder's probabilities are the task's up to float rounding
        assert report["bpc_model"] == pytest.approx(task_bpc, rel=1e-4)
        assert report["bpc_achieved"] < report["baselines_bits"]["xz -9"] / chars
    print("\n\n".join(tables))
