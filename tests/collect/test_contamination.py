"""Word 13-gram contamination: the index, the ``collect contamination`` command and ``--decontaminate``."""

from __future__ import annotations

import json

from lm_eval_compression.collect.contamination import NgramIndex, ngram_hashes, words
from tests.collect.fixtures import check_manifest_counts, collect, read_jsonl, step
from tests.collect.latex_sources import INTRO_TEX, arxiv_sources
from tests.collect.web_pages import EN_1, EN_2, EN_3


def _write(path, texts, key="content"):
    path.write_text("".join(json.dumps({key: t, "meta": {"i": i}}) + "\n" for i, t in enumerate(texts)))
    return path


def test_ngrams_and_overlap():
    assert words("It's 2024: Hello, WORLD!") == ["it", "s", "2024", "hello", "world"]
    assert len(ngram_hashes("one two three", 3)) == 1 and len(ngram_hashes("one two", 3)) == 0
    index = NgramIndex.from_texts([EN_1], n=13)
    thirteen = " ".join(EN_1.split()[20:33])
    twelve = " ".join(EN_1.split()[20:32])
    assert index.overlap(f"Some new words, then: {thirteen.upper()} and more.") == 1  # case/punctuation blind
    assert index.overlap(f"Some new words, then: {twelve} and more.") == 0
    assert index.overlap(EN_2) == 0 and index.overlap("") == 0
    assert index.overlap(EN_1) == len(words(EN_1)) - 12
    assert NgramIndex.from_texts([], n=13).overlap(EN_1) == 0


def test_contamination_command(tmp_path, capsys):
    ref = _write(tmp_path / "ref.jsonl", [EN_1, "short text"], key="text")
    corpus = _write(tmp_path / "cc.jsonl", [EN_2, " ".join(EN_1.split()[5:40]), EN_3, "tiny"])
    clean = tmp_path / "clean.jsonl"
    assert (
        collect(
            "contamination",
            corpus,
            "--reference",
            ref,
            "--output",
            clean,
            "--json",
            tmp_path / "r.json",
            "--no-progress",
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads((tmp_path / "r.json").read_text())
    assert report["ngram"] == 13 and report["reference_docs"] == 2
    assert report["inputs"][str(corpus)] == {
        "docs": 4,
        "contaminated_docs": 1,
        "share": 0.25,
        "written": {"path": str(clean), "docs": 3},
    }
    assert [r["meta"]["i"] for r in read_jsonl(clean)] == [0, 2, 3]
    # single words: every page shares "the" with the reference, "tiny" shares nothing
    collect("contamination", corpus, "--reference", ref, "--ngram", 1, "--no-progress")
    assert json.loads(capsys.readouterr().out)["inputs"][str(corpus)]["contaminated_docs"] == 3


def test_decontaminate_option_in_a_pipeline(tmp_path):
    sources = tmp_path / "work" / "sources"
    sources.mkdir(parents=True)
    for arxiv_id, data in arxiv_sources().items():
        (sources / arxiv_id).write_bytes(data)
    # the reference shares one sentence (more than 13 words) with paper 2310.00001's \input file
    ref = _write(tmp_path / "ref.jsonl", ["Benchmark question. " + INTRO_TEX.splitlines()[3]])
    out = tmp_path / "out"
    collect(
        "arxiv_math",
        "extract",
        "--work",
        tmp_path / "work",
        "--out",
        out,
        "--after",
        "2023-09-01",
        "--format",
        "latex",
        "--decontaminate",
        ref,
        "--no-progress",
    )
    m = json.loads((out / "arxiv_math.manifest.json").read_text())
    check_manifest_counts(m, ["extract", "exact_dedup", "near_dedup", "decontaminate", "sample"])
    assert step(m, "decontaminate")["dropped"] == {"contaminated": 1}
    assert m["contamination"]["share"] == 0.5 and m["contamination"]["references"] == [str(ref)]
    assert m["contamination"]["ngram"] == 13
    rows = read_jsonl(out / "arxiv_math.jsonl")
    assert [r["meta"]["arxiv_id"] for r in rows] == ["2310.00002"]
    assert rows[0]["meta"]["date_source"] == "arxiv_id" and rows[0]["meta"]["date"] == "2023-10-01T00:00:00Z"

    # without the option the next run drops the step (and reuses the others): both papers are back
    collect(
        "arxiv_math",
        "extract",
        "--work",
        tmp_path / "work",
        "--out",
        out,
        "--after",
        "2023-09-01",
        "--format",
        "latex",
        "--no-progress",
    )
    m = json.loads((out / "arxiv_math.manifest.json").read_text())
    check_manifest_counts(m, ["extract", "exact_dedup", "near_dedup", "sample"])
    assert "contamination" not in m and m["final"]["docs"] == 2


def test_module_command_line(tmp_path):
    """The same check through ``python -m lm_eval_compression collect contamination``."""
    import subprocess
    import sys

    ref = _write(tmp_path / "ref.jsonl", [EN_1])
    corpus = _write(tmp_path / "corpus.jsonl", [EN_1, EN_2])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lm_eval_compression",
            "collect",
            "contamination",
            str(corpus),
            "--reference",
            str(ref),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inputs"][str(corpus)]["share"] == 0.5
