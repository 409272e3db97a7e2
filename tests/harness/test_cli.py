"""The real ``lm_eval`` command line, caching, coexistence with stock rolling tasks, and bad input."""

import ast
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_compression.engine.settings import WindowSettingsError
from lm_eval_compression.harness import compat, runner
from lm_eval_compression.harness import hooks as harness
from lm_eval_compression.harness.task import CorpusError
from tests.support.api import evaluate, load_lm, new_lm, per_doc
from tests.support.cli import TASKS_DIR, run_lm_eval
from tests.support.corpora import write_corpus

TASKS = ["compression_cc", "compression_python", "compression_arxiv_math"]
# what this file checks differs between harness versions: make test-next runs it on the 0.5 pre-release too
pytestmark = pytest.mark.versions


def test_lm_eval_command_writes_bpc_for_tasks_and_group(cli_run):
    results = cli_run["results"]
    res = results["results"]
    # 0.5 keys a group's members as "group::task" in results, configs and sample file names
    key = {t: t if t in res else f"compression::{t}" for t in TASKS}
    for task in TASKS:
        r = res[key[task]]
        assert r["bpc,none"] > 0 and isinstance(r["bpc_stderr,none"], float) and r["bpc_stderr,none"] > 0
        assert math.isclose(r["bpc,none"], r["total_nats,none"] / r["total_chars,none"] / math.log(2), rel_tol=1e-12)
        assert math.isclose(r["bpb,none"], r["total_nats,none"] / r["total_bytes,none"] / math.log(2), rel_tol=1e-12)
        summary = results["configs"][key[task]]["compression"]
        assert (summary["block_size"], summary["stride"], summary["protocol"]) == (48, 16, "document")
        assert summary["window_bos"] is True and summary["prefix_token"] == "<s>"
    group = res["compression"]
    assert math.isclose(group["bpc,none"], sum(res[key[t]]["bpc,none"] for t in TASKS) / 3, rel_tol=1e-12)
    stderrs = [res[key[t]]["bpc_stderr,none"] for t in TASKS]
    if compat.is_next():
        # lm-eval 0.5.0.dev1 pools member stderrs by size even for an unweighted mean (README: harness versions)
        sizes = [res[key[t]]["sample_len"] for t in TASKS]
        pooled = math.sqrt(sum((n - 1) * s * s * n for n, s in zip(sizes, stderrs)) / (sum(sizes) - 3) / sum(sizes))
        assert math.isclose(group["bpc_stderr,none"], pooled, rel_tol=1e-9)
    else:
        assert math.isclose(group["bpc_stderr,none"], math.sqrt(sum(s * s for s in stderrs)) / 3, rel_tol=1e-9)
    samples_file = next(cli_run["out"].rglob("samples_*compression_cc_*.jsonl"))
    sample = json.loads(samples_file.read_text().splitlines()[0])
    resp = sample["resps"][0][0]
    resp = ast.literal_eval(resp) if isinstance(resp, str) else resp  # the harness's writer stores str(response)
    assert {"loglikelihood", "chars", "bytes", "tokens", "bpc"} <= set(resp)
    assert math.isclose(resp["bpc"], -resp["loglikelihood"] / resp["chars"] / math.log(2))


def test_stock_rolling_task_is_unchanged_next_to_the_plugin(cli_run):
    """The stock task alone (in process) and next to the plugin's tasks (the shared ``lm_eval`` run)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(cli_run["stock_yaml"].parent), include_defaults=False)
    alone = simple_evaluate(model=load_lm(cli_run["model"]), tasks=["stock_rolling"], task_manager=tm)
    mixed = cli_run["results"]
    a, b = alone["results"]["stock_rolling"], mixed["results"]["stock_rolling"]
    for key in ("word_perplexity,none", "byte_perplexity,none", "bits_per_byte,none"):
        assert a[key] == b[key]
    python = "compression_python" if "compression_python" in mixed["results"] else "compression::compression_python"
    assert mixed["results"][python]["bpc,none"] > 0


def test_cli_rejects_bad_settings_with_a_clear_message(tiny_models, corpus_dir, tmp_path):
    _, proc = run_lm_eval(
        [
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_models['plain']}",
            "--tasks",
            "compression_cc",
            "--include_path",
            str(TASKS_DIR),
            "--metadata",
            json.dumps({"data_dir": corpus_dir, "stride": 0}),
        ],
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode != 0
    assert "stride must be at least 1, got 0 (task compression_cc)" in proc.stderr


def test_tasks_dir_command_prints_the_include_path():
    out = subprocess.run(
        [sys.executable, "-m", "lm_eval_compression", "tasks-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert Path(out, "compression.yaml").is_file() and Path(out, "compression_cc.yaml").is_file()


@pytest.mark.parametrize(
    "meta,message",
    [
        ({"stride": 0}, "stride must be at least 1"),
        ({"block_size": 16, "stride": 17}, "stride (17) must not exceed block_size (16)"),
        ({"block_size": 1}, "block_size must be at least 2"),
        ({"protocol": "sliding"}, "protocol must be one of document, paper, got 'sliding'"),
        ({"window_bos": "maybe"}, "window_bos must be auto, true or false"),
        ({"protocol": "paper", "window_bos": True}, "window_bos=true has no meaning for protocol=paper"),
    ],
)
def test_bad_window_settings(tiny_models, corpus_dir, meta, message):
    with pytest.raises(WindowSettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(load_lm(tiny_models["plain"]), ["compression_cc"], {"data_dir": corpus_dir, **meta})


def test_block_size_above_model_maximum_is_rejected_before_scoring(tiny_models, corpus_dir, monkeypatch):
    def no_scoring(*args, **kwargs):
        raise AssertionError("scored despite a bad block_size")

    monkeypatch.setattr(runner.WindowScorer, "score", no_scoring)
    with pytest.raises(
        WindowSettingsError, match=r"block_size \(1900\) is larger than the model's maximum length \(256\)"
    ):
        evaluate(load_lm(tiny_models["plain"]), ["compression_cc"], {"data_dir": corpus_dir})


def test_corpus_errors(tiny_models, tmp_path):
    lm = load_lm(tiny_models["plain"])
    with pytest.raises(CorpusError, match=r"cc\.jsonl does not exist"):
        evaluate(lm, ["compression_cc"], {"data_dir": str(tmp_path / "nowhere"), "block_size": 32, "stride": 8})
    empty = write_corpus(tmp_path / "empty", {"cc": ["", ""]})
    with pytest.raises(CorpusError, match="has no non-empty documents"):
        evaluate(lm, ["compression_cc"], {"data_dir": empty, "block_size": 32, "stride": 8})
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "cc.jsonl").write_text(json.dumps({"text": "hello", "subset": "cc", "meta": {}}) + "\n")
    with pytest.raises(CorpusError, match=r"has no field 'content'"):
        evaluate(lm, ["compression_cc"], {"data_dir": str(bad), "block_size": 32, "stride": 8})
    # the same file works once text_field names its field
    res = evaluate(lm, ["compression_cc"], {"data_dir": str(bad), "block_size": 32, "stride": 8, "text_field": "text"})
    assert res["results"]["compression_cc"]["total_chars,none"] == 5


def test_non_ascii_text_counts_code_points_and_utf8_bytes(tiny_models, tmp_path):
    docs = ["naïve café", "東京 🙂 Ελλάδα", "", "plain ascii"]
    folder = write_corpus(tmp_path, {"cc": docs})
    res = evaluate(
        load_lm(tiny_models["plain"]), ["compression_cc"], {"data_dir": folder, "block_size": 32, "stride": 8}
    )
    r = res["results"]["compression_cc"]
    kept = [d for d in docs if d]
    assert r["total_chars,none"] == sum(len(d) for d in kept) == 32
    assert r["total_bytes,none"] == sum(len(d.encode("utf-8")) for d in kept) == 47
    assert len(per_doc(res, "compression_cc")) == 3


@pytest.mark.parametrize("protocol", ["document", "paper"])
def test_use_cache_reuses_results_and_never_mixes_settings(tiny_models, corpus_dir, tmp_path, monkeypatch, protocol):
    lm = new_lm(tiny_models["plain"])
    cache = str(tmp_path / "cache")
    meta = {"data_dir": corpus_dir, "block_size": 32, "stride": 8, "protocol": protocol}
    first = evaluate(lm, ["compression_cc"], meta, use_cache=cache)
    original = harness.score_requests

    def must_not_score(*args, **kwargs):
        raise AssertionError("cached requests were scored again")

    monkeypatch.setattr(harness, "score_requests", must_not_score)
    again = evaluate(lm, ["compression_cc"], meta, use_cache=cache)
    assert again["results"]["compression_cc"]["bpc,none"] == first["results"]["compression_cc"]["bpc,none"]
    monkeypatch.setattr(harness, "score_requests", original)
    other = evaluate(lm, ["compression_cc"], {**meta, "stride": 4}, use_cache=cache)
    fresh = evaluate(lm, ["compression_cc"], {**meta, "stride": 4})
    assert other["results"]["compression_cc"]["bpc,none"] == fresh["results"]["compression_cc"]["bpc,none"]
    assert other["results"]["compression_cc"]["bpc,none"] != first["results"]["compression_cc"]["bpc,none"]


def test_a_user_yaml_naming_the_public_task_class_runs(tiny_models, corpus_dir, tmp_path):
    """The README's "your own corpus" YAML: ``class: !function lm_eval_compression.task.CompressionTask``."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "my_corpus_bpc.yaml").write_text(
        "task: my_corpus_bpc\n"
        "class: !function lm_eval_compression.task.CompressionTask\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files: {{test: {corpus_dir}/python.jsonl}}\n"
        "metadata:\n  text_field: content\n  block_size: 32\n  stride: 8\n"
    )
    tm = TaskManager(include_path=str(folder), include_defaults=False)
    res = simple_evaluate(model=load_lm(tiny_models["plain"]), tasks=["my_corpus_bpc"], task_manager=tm)
    ours = evaluate(
        load_lm(tiny_models["plain"]), ["compression_python"], {"data_dir": corpus_dir, "block_size": 32, "stride": 8}
    )
    assert res["results"]["my_corpus_bpc"]["bpc,none"] == ours["results"]["compression_python"]["bpc,none"]
    assert res["configs"]["my_corpus_bpc"]["compression"]["block_size"] == 32
