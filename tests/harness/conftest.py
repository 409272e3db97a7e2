"""Fixtures of the harness tests: the one ``lm_eval`` command that the command-line tests share, one pair of
data-parallel ranks, and the real SmolLM2 runs (a few short documents in ``make test``, the whole shipped sample
in ``make test-full``)."""

import json
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lm_eval_compression import demo
from tests.support.api import evaluate
from tests.support.cli import REPO, TASKS_DIR, offline_env, run_lm_eval
from tests.support.corpora import FRESH_ROWS, write_fresh_snapshot

CLI_SETTINGS = {"block_size": 48, "stride": 16}


def stock_rolling_yaml(folder, corpus_dir):
    """A stock ``loglikelihood_rolling`` task of the harness's own kind on the corpus's python file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stock_rolling.yaml"
    path.write_text(
        "task: stock_rolling\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {corpus_dir}/python.jsonl\n"
        "output_type: loglikelihood_rolling\ntest_split: test\ndoc_to_text: ''\ndoc_to_target: content\n"
        "metric_list:\n  - metric: word_perplexity\n  - metric: byte_perplexity\n  - metric: bits_per_byte\n"
    )
    return path


@pytest.fixture(scope="session")
def cli_run(tiny_models, corpus_dir, tmp_path_factory):
    """One real ``lm_eval run`` for the command-line tests: the ``compression`` and ``compression_fresh``
    groups and a stock rolling task (given as a YAML path) side by side, tiny BOS model, 48/16 windows,
    samples logged. Its data folder holds both layouts: the three corpus files and an Uncheatable Eval
    snapshot file."""
    root = tmp_path_factory.mktemp("cli_run")
    data = root / "data"
    shutil.copytree(corpus_dir, data)
    write_fresh_snapshot(data, FRESH_ROWS)
    stock = stock_rolling_yaml(root / "stock", corpus_dir)
    results, _ = run_lm_eval(
        [
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_models['bos']},dtype=float32",
            "--tasks",
            f"compression,compression_fresh,{stock}",
            "--include_path",
            str(TASKS_DIR),
            "--device",
            "cpu",
            "--log_samples",
            "--metadata",
            json.dumps({"data_dir": str(data), **CLI_SETTINGS}),
        ],
        cwd=root / "run",
    )
    return {"results": results, "out": root / "run" / "out", "stock_yaml": stock, "model": tiny_models["bos"]}


# The real model: the first documents of the shipped sample are long (9,000 to 10,000 characters), the rest
# short (1,000 to 1,700). make test scores two short ones per corpus at 128/96 windows (3 to 7 windows per
# document); make test-full the whole sample at the task defaults (1900/512).
SHORT_DOCS = slice(2, 5)


@dataclass(frozen=True)
class RealScale:
    """Window settings (task metadata; none: the defaults) and ``--limit`` of each protocol's run."""

    settings: dict
    document_limit: int | None
    paper_limit: int


REAL_SCALES = {
    "short": RealScale({"block_size": 128, "stride": 96}, document_limit=2, paper_limit=2),
    "full": RealScale({}, document_limit=None, paper_limit=3),
}


@pytest.fixture(scope="session")
def short_sample(tmp_path_factory):
    """The shipped sample's short documents (three per corpus) in the dataset's layout."""
    folder = tmp_path_factory.mktemp("short_sample")
    for name in demo.CORPORA:
        lines = (demo.sample_dir() / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()[SHORT_DOCS]
        (folder / f"{name}.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return folder


@pytest.fixture(scope="session", params=["short", pytest.param("full", marks=pytest.mark.full)])
def real_runs(request, smollm2, short_sample):
    """SmolLM2 on the ``compression`` group in both protocols, in process: ``(scale, lm, document, paper)``."""
    scale = REAL_SCALES[request.param]
    data = str(short_sample if request.param == "short" else demo.sample_dir())
    lm = smollm2[1]
    meta = {"data_dir": data, **scale.settings}
    document = evaluate(lm, ["compression"], meta, limit=scale.document_limit)
    paper = evaluate(lm, ["compression"], {**meta, "protocol": "paper"}, limit=scale.paper_limit)
    return {"scale": scale, "lm": lm, "document": document, "paper": paper}


WORKER = "tests.support.two_rank_worker"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_ranks(model, corpus, out, protocols, rank1_memory=None) -> list[dict]:
    """Both ranks of ``tests.support.two_rank_worker`` over ``protocols`` (comma-separated); their reports."""
    port = free_port()
    env = offline_env()
    procs = []
    for rank in (0, 1):
        extra = [str(rank1_memory)] if rank == 1 and rank1_memory else []
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", WORKER, str(rank), str(port), model, corpus, str(out), protocols, *extra],
                env=env,
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = [p.communicate(timeout=600)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    return [json.loads(Path(out, f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.fixture(scope="session")
def two_rank_reports(tiny_models, corpus_dir, tmp_path_factory):
    """One pair of ranks, both protocols in turn. Rank 1 sees little free memory: alone it would choose
    batch 1, rank 0 a larger one."""
    out = tmp_path_factory.mktemp("two_ranks")
    return two_ranks(tiny_models["bos"], corpus_dir, out, "document,paper", rank1_memory=100_000)
