"""What the pipelines write is what the tasks read: build all three corpora into one folder, pass it to
the real ``lm_eval`` command as ``data_dir`` and score them with a tiny random model."""

from __future__ import annotations

import json

from tests.collect.fixtures import collect, read_jsonl
from tests.collect.latex_sources import arxiv_sources
from tests.collect.web_pages import web_records, write_warc
from tests.support.cli import TASKS_DIR, run_lm_eval

TASKS = ["compression_cc", "compression_python", "compression_arxiv_math"]


def test_collected_corpora_evaluate_through_data_dir(tiny_models, repos, tmp_path):
    data = tmp_path / "fresh"
    collect(
        "python",
        "extract",
        "--repos-dir",
        repos["root"],
        "--out",
        data,
        "--after",
        "2023-09-01",
        "--target-chars",
        6000,
        "--no-progress",
    )
    sources = tmp_path / "arxiv" / "sources"
    sources.mkdir(parents=True)
    for arxiv_id, body in arxiv_sources().items():
        (sources / arxiv_id).write_bytes(body)
    collect(
        "arxiv_math",
        "extract",
        "--sources",
        sources,
        "--work",
        tmp_path / "arxiv",
        "--out",
        data,
        "--after",
        "2023-09-01",
        "--format",
        "markdown",
        "--no-progress",
    )
    warc = write_warc(tmp_path / "pages.warc.gz", web_records())
    collect(
        "cc",
        "extract",
        "--warc",
        warc,
        "--out",
        data,
        "--after",
        "2023-09-01",
        "--extractor",
        "resiliparse",
        "--no-progress",
    )

    chars = {}
    for area in ("python", "arxiv_math", "cc"):
        rows = read_jsonl(data / f"{area}.jsonl")
        manifest = json.loads((data / f"{area}.manifest.json").read_text())
        assert rows and manifest["final"]["docs"] == len(rows)
        chars[area] = sum(len(r["content"]) for r in rows)
        assert manifest["final"]["chars"] == chars[area]

    results, _ = run_lm_eval(
        [
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_models['plain']},dtype=float32",
            "--tasks",
            "compression",
            "--include_path",
            str(TASKS_DIR),
            "--device",
            "cpu",
            "--metadata",
            json.dumps({"data_dir": str(data), "block_size": 128, "stride": 128}),
        ],
        cwd=tmp_path,
    )
    for task in TASKS:
        r = results["results"][task]
        assert r["bpc,none"] > 0 and r["total_chars,none"] == chars[task.removeprefix("compression_")]
