"""Hostile arXiv sources: the text of a collected paper comes from its own source and nothing else, and a
damaged or oversized source is one dropped paper with a reason, never a stopped step or an exhausted
machine."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from lm_eval_compression.collect.latex import TextSettings, drop_spans, inline_inputs, latex_to_text, strip_comments
from lm_eval_compression.collect.limits import Deadline, LimitExceeded
from lm_eval_compression.collect.sources import read_source, source_name
from tests.collect.fixtures import collect, dropped_rows, read_jsonl, step
from tests.collect.latex_sources import (
    BEFORE_IFFALSE,
    FILLER,
    LEAK_TOKEN,
    SECRET_TEXT,
    damaged_gzip,
    fan_out,
    gzip_bomb,
    hostile_sources,
    many_members,
    reading_forms,
)


@pytest.fixture()
def secret(tmp_path, monkeypatch) -> Path:
    """A local file and an environment variable that no collected text may contain."""
    monkeypatch.setenv("COLLECT_TEST_LEAK", LEAK_TOKEN)
    path = tmp_path / "secret.txt"
    path.write_text(SECRET_TEXT + "\n")
    return path


@pytest.mark.parametrize("form", ["lstinputlisting", "inputminted", "macro_input"])
def test_pandoc_reads_no_local_file_or_environment(secret, form):
    text, info = latex_to_text({"main.tex": reading_forms(secret)[form].encode()})
    assert FILLER[:40] in text
    assert LEAK_TOKEN not in text and SECRET_TEXT not in text


def test_damaged_gzip_is_a_bad_archive(tmp_path):
    path = tmp_path / "2310.10004"
    path.write_bytes(damaged_gzip())
    assert read_source(path) == "bad_archive"


def test_gzip_bomb_stops_at_the_expanded_size_bound(tmp_path):
    path = tmp_path / "2310.10005"
    path.write_bytes(gzip_bomb(315_000_000))
    assert path.stat().st_size < 400_000
    assert read_source(path) == "too_large_expanded"


def test_archive_with_too_many_members(tmp_path):
    path = tmp_path / "2310.10009"
    path.write_bytes(many_members(10_001))
    assert read_source(path) == "too_many_members"
    path.write_bytes(many_members(9_999))
    assert list(read_source(path)) == ["main.tex"]


def test_input_fan_out_is_bounded_in_total():
    """19 levels of two ``\\input`` each: 2**19 inclusions, though every chain is under the depth bound."""
    files = fan_out(19)
    assert sum(len(t) for t in files.values()) < 1000
    with pytest.raises(LimitExceeded) as info:
        inline_inputs("main.tex", files, [])
    assert info.value.reason == "too_many_inputs"
    small = fan_out(8)  # 511 inclusions, 256 of them the leaf: inlined
    assert inline_inputs("main.tex", small, []).count("word ") == 2**8


def test_time_per_paper_is_bounded():
    """Every phase checks the paper's deadline; a clock that runs out drops the paper."""
    ticks = iter(range(0, 10_000, 100))
    deadline = Deadline(250, clock=lambda: float(next(ticks)))
    files = {"main.tex": b"\\documentclass{article}\\begin{document}\\input{a}\\end{document}", "a.tex": b"A"}
    assert latex_to_text(files, TextSettings(fmt="latex"), deadline) == "paper_timeout"


def test_unclosed_iffalse_drops_the_rest_of_its_file():
    """TeX skips everything after an ``\\iffalse`` that is never closed; so does the cleaner (in linear time)."""
    assert strip_comments("a \\iffalse b \\fi c \\iffalse d\\fi e") == "a  c  e"
    assert strip_comments("kept\n" + "\\iffalse x\n" * 20_000) == "kept\n"
    assert strip_comments("kept \\begin{comment} open") == "kept "


def test_span_removal_equals_the_regex_it_replaces():
    """Closed ``\\iffalse``/``\\fi`` and ``thebibliography`` spans go exactly as ``re.sub`` would remove them."""
    begin, end = re.compile(r"\\iffalse\b"), re.compile(r"\\fi\b")
    pieces = ["\\iffalse", "\\fi", "\\fix", " ", "a", "\\iffalsex", "\n", "\\fi\\fi"]
    rng = random.Random(0)
    for _ in range(2000):
        text = "".join(rng.choices(pieces, k=rng.randint(0, 12)))
        expected = re.sub(r"\\iffalse\b.*?\\fi\b", "", text, flags=re.S)
        assert drop_spans(text, begin, end) == expected, text


def test_hostile_sources_through_the_arxiv_extract(secret, tmp_path):
    """The hostile-input set through ``collect arxiv_math extract --format markdown`` with the default
    bounds: every paper kept or dropped with its reason, no text from outside the sources in any file
    the step writes."""
    sources = tmp_path / "sources"
    sources.mkdir()
    expected = hostile_sources(secret)
    for arxiv_id, (data, _) in expected.items():
        (sources / arxiv_id).write_bytes(data)
    out, work = tmp_path / "out", tmp_path / "work"
    collect(
        "arxiv_math", "extract", "--sources", sources, "--work", work, "--out", out, "--after", "2023-09-01",
        "--format", "markdown", "--no-progress",
    )  # fmt: skip

    manifest = json.loads((out / "arxiv_math.manifest.json").read_text())
    reasons = {r["metadata"]["arxiv_id"]: r["metadata"]["filter_reason"] for r in dropped_rows(work, "extract")}
    assert reasons == {i: reason for i, (_, reason) in expected.items() if reason}
    assert step(manifest, "extract")["dropped"] == {r: list(reasons.values()).count(r) for r in set(reasons.values())}
    rows = {r["meta"]["arxiv_id"]: r["content"] for r in read_jsonl(out / "arxiv_math.jsonl")}
    kept = [i for i, (_, reason) in expected.items() if reason is None]
    assert step(manifest, "extract")["out_docs"] == len(kept)
    assert set(rows) <= set(kept) and "2310.10001" in rows  # of identical texts, the first stays
    assert rows["2310.10007"].rstrip().endswith(BEFORE_IFFALSE[-40:])
    for path in [*out.rglob("*"), *work.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert LEAK_TOKEN.encode() not in data and SECRET_TEXT.encode() not in data, path


def test_paper_ids_name_one_file_inside_the_sources_folder():
    """An id from a listing becomes a file name only when it stays inside the sources folder."""
    assert source_name("2310.00001") == "2310.00001" and source_name("math/0601001") == "math_0601001"
    assert source_name("../x") is None and source_name("a/../b") == "a_.._b"  # slashes join one name
    assert [source_name(b) for b in ("..", ".", "", ".hidden", "-rf", "a\\b", "x.partial")] == [None] * 7
