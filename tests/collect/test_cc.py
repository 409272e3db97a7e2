"""The cc pipeline end to end on WARC/WET files written here with warcio: a local WARC file, and a WET
file listed in a Common Crawl style paths file and fetched from a local HTTP server."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.collect.fixtures import LAYOUTS, check_manifest_counts, collect, dropped_rows, read_jsonl, serve, step
from tests.collect.web_pages import EN_1, EN_2, EN_3, html_page, web_records, wet_records, write_warc

DOC_STEPS = ["extract", "language", "quality", "exact_dedup", "near_dedup", "sample"]
KEPT_URLS = ["https://food.example.org/bread", "https://news.example.org/bridge", "https://space.example.org/planet"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cc")
    warc = write_warc(tmp / "CC-MAIN-test-00000.warc.gz", web_records())
    wet = write_warc(tmp / "CC-MAIN-test-00000.warc.wet.gz", wet_records())
    listing = gzip.compress(
        b"crawl-data/CC-MAIN-test/wet/CC-MAIN-test-00000.warc.wet.gz\n"
        b"crawl-data/CC-MAIN-test/wet/CC-MAIN-test-00001.warc.wet.gz\n"
    )
    files = {
        "/crawl-data/CC-MAIN-test/wet.paths.gz": listing,
        "/crawl-data/CC-MAIN-test/wet/CC-MAIN-test-00000.warc.wet.gz": wet.read_bytes(),
    }

    def host(path, query):
        return (200, "application/octet-stream", files[path]) if path in files else (404, "text/plain", b"")

    return {"tmp": tmp, "warc": warc, "host": host}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def cc_run(inputs, request):
    out = inputs["tmp"] / request.param
    with serve({"/": inputs["host"]}) as (base, log):
        collect(
            "cc",
            "all",
            "--warc",
            inputs["warc"],
            "--paths-file",
            f"{base}/crawl-data/CC-MAIN-test/wet.paths.gz",
            "--base-url",
            base,
            "--after",
            "2023-09-01",
            "--before",
            "2025-01-01",
            "--out",
            out,
            *LAYOUTS[request.param],
        )
        requests = [path for path, _, _ in log]
    return {
        "out": out,
        "requests": requests,
        "rows": read_jsonl(out / "cc.jsonl"),
        "manifest": json.loads((out / "cc.manifest.json").read_text()),
    }


def test_cc_survivors(cc_run):
    rows = cc_run["rows"]
    assert sorted(r["meta"]["url"] for r in rows) == KEPT_URLS
    by_url = {r["meta"]["url"]: r for r in rows}
    bridge = by_url["https://news.example.org/bridge"]
    assert bridge["subset"] == "cc"
    assert "The river town of Millbrook" in bridge["content"]
    assert "All rights reserved" not in bridge["content"] and "<p>" not in bridge["content"]  # boilerplate/markup
    meta = bridge["meta"]
    assert meta["source"] == "commoncrawl" and meta["date"] == "2024-02-01T10:00:00Z" and meta["license"]
    assert meta["language"] == "en" and meta["language_score"] >= 0.5
    assert meta["warc_file"] == "CC-MAIN-test-00000.warc.gz" and meta["record_id"].startswith("<urn:uuid:")
    assert by_url["https://space.example.org/planet"]["meta"]["warc_file"] == "CC-MAIN-test-00000.warc.wet.gz"


def test_cc_manifest_and_reasons(cc_run):
    m = cc_run["manifest"]
    check_manifest_counts(m, DOC_STEPS)
    extract = step(m, "extract")
    assert extract["dropped"] == {"http_status": 1, "not_html": 1, "out_of_date_range": 1}
    assert extract["in_docs"] == 12  # 10 responses + 2 WET conversions; the request record is no document
    assert extract["files"] == 3
    assert list(extract["failed_files"]) == [next(x for x in m["inputs"] if x.endswith("00001.warc.wet.gz"))]
    assert step(m, "language")["dropped"] == {"other_language": 3}
    assert list(step(m, "quality")["dropped"]) and sum(step(m, "quality")["dropped"].values()) == 1
    assert step(m, "exact_dedup")["dropped"] == {"exact_duplicate": 1}
    assert step(m, "near_dedup")["dropped"] == {"near_duplicate": 1}
    assert m["date_range"] == {"after": "2023-09-01T00:00:00Z", "before": "2025-01-01T00:00:00Z"}
    for lib in ("warcio", "trafilatura", "lingua-language-detector", "spacy"):
        assert lib in m["libraries"]
    work = cc_run["out"] / "work" / "cc"
    dropped = {
        r["metadata"]["url"]: r["metadata"]
        for s in ("extract", "language", "quality", "exact_dedup", "near_dedup")
        for r in dropped_rows(work, s)
    }
    assert dropped["https://mirror.example.net/bridge"]["duplicate_of"] == bridge_id(cc_run)
    assert dropped["https://copy.example.net/bread"]["filter_reason"] == "near_duplicate"
    assert dropped["https://spam.example.com/"]["filter_reason"].startswith(("top_", "dup_", "gopher"))
    assert {
        dropped[u]["language"]
        for u in ("https://de.example.org/bruecke", "https://fr.example.org/pain", "https://de.example.org/wet")
    } == {"de", "fr"}
    assert "/crawl-data/CC-MAIN-test/wet.paths.gz" in cc_run["requests"]


def bridge_id(cc_run) -> str:
    return next(r["meta"]["id"] for r in cc_run["rows"] if r["meta"]["url"].endswith("/bridge"))


def test_cc_sampling_is_seeded_and_resumes(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    base = [
        "cc",
        "extract",
        "--warc",
        inputs["warc"],
        "--after",
        "2023-09-01",
        "--before",
        "2025-01-01",
        "--out",
        out,
        "--no-progress",
    ]
    collect(*base)
    total = json.loads((out / "cc.manifest.json").read_text())["final"]["chars"]

    def sample(seed):
        collect(*base, "--target-chars", total // 3, "--seed", seed)
        return [r["meta"]["url"] for r in read_jsonl(out / "cc.jsonl")]

    first = sample(1)
    assert len(first) == 1  # two pages survive, each longer than a third of both
    capsys.readouterr()
    assert sample(1) == first
    log = capsys.readouterr().err
    assert "extract: done before, skipped" in log and "near_dedup: done before, skipped" in log
    assert "sample: done before, skipped" in log
    seeds = {tuple(sample(s)) for s in range(2, 8)}
    assert len(seeds) > 1  # other seeds pick other pages
    m = json.loads((out / "cc.manifest.json").read_text())
    assert m["final"]["chars"] >= total // 3 and m["parameters"]["target_chars"] == total // 3


def test_cc_resiliparse_extractor(inputs, tmp_path):
    collect(
        "cc",
        "extract",
        "--warc",
        inputs["warc"],
        "--after",
        "2023-09-01",
        "--out",
        tmp_path,
        "--extractor",
        "resiliparse",
        "--no-progress",
    )
    urls = sorted(r["meta"]["url"] for r in read_jsonl(tmp_path / "cc.jsonl"))
    assert urls == KEPT_URLS[:2]


def test_cc_needs_input(tmp_path):
    with pytest.raises(SystemExit, match="no input"):
        collect("cc", "extract", "--out", tmp_path)


def test_paths_listing_never_names_a_local_file(inputs, tmp_path):
    """A listing line that names an existing local file is a path under the base URL like any other: the
    local file is not read; a line with another scheme than the listing's is refused."""
    text = EN_3.replace("Astronomers", "Quillhaven astronomers")  # a page only the local file holds
    record = {"url": "https://x.example/", "date": "2024-02-02T10:00:00Z", "text": text}
    local = write_warc(tmp_path / "local.warc.wet.gz", [record])
    listings = {
        "/local.paths": f"{local}\n".encode(),
        "/schemes.paths": b"crawl-data/a.warc.wet.gz\nfile:///etc/hostname\n",
    }

    def host(path, query):
        return (200, "text/plain", listings[path]) if path in listings else (404, "text/plain", b"")

    out = tmp_path / "out"
    with serve({"/": host}) as (base, log):
        args = ["cc", "extract", "--base-url", base, "--after", "2023-09-01", "--out", out, "--no-progress"]
        collect(*args, "--paths-file", f"{base}/local.paths", "--warc", inputs["warc"])
        with pytest.raises(SystemExit, match="line 2: 'file:///etc/hostname' is not a http URL"):
            collect(*args, "--paths-file", f"{base}/schemes.paths")
        requested = [path for path, _, _ in log]
    manifest = json.loads((out / "cc.manifest.json").read_text())
    assert list(step(manifest, "extract")["failed_files"]) == [f"{base}{local}"]
    assert str(local) in requested
    assert "Quillhaven" not in (out / "cc.jsonl").read_text()


def test_records_over_the_size_bound_are_dropped(tmp_path):
    big = EN_2 + " " + "word " * 3000
    warc = write_warc(
        tmp_path / "pages.warc.gz",
        [
            {"url": "https://big.example.org/", "date": "2024-02-01T10:00:00Z", "html": html_page("Big", big)},
            {"url": "https://small.example.org/", "date": "2024-02-01T10:00:00Z", "html": html_page("Bridge", EN_1)},
        ],
    )
    out = tmp_path / "out"
    collect(
        "cc", "extract", "--warc", warc, "--after", "2023-09-01", "--out", out, "--no-progress",
        "--extractor", "resiliparse", "--max-record-bytes", 8000,
    )  # fmt: skip
    manifest = json.loads((out / "cc.manifest.json").read_text())
    assert step(manifest, "extract")["dropped"] == {"too_large_record": 1}
    [dropped] = dropped_rows(out / "work" / "cc", "extract")
    assert dropped["metadata"]["url"] == "https://big.example.org/"
    assert dropped["metadata"]["filter_reason"] == "too_large_record"
    assert [r["meta"]["url"] for r in read_jsonl(out / "cc.jsonl")] == ["https://small.example.org/"]
