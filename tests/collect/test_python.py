"""The python pipeline end to end on git repositories made here, and its GitHub search step against a
local stand-in for the search API."""

from __future__ import annotations

import json
import re

import pytest

from lm_eval_compression.collect.dates import parse_date
from lm_eval_compression.collect.dedup import jaccard
from lm_eval_compression.collect.filters import CodeQualityFilter
from lm_eval_compression.collect.github import GitHubSearch, clone_one, detect_license
from tests.collect.fixtures import (
    LAYOUTS,
    check_manifest_counts,
    code_file,
    collect,
    dropped_rows,
    read_jsonl,
    serve,
    stage_stats,
    step,
)

DOC_STEPS = ["extract", "exact_dedup", "quality", "near_dedup", "sample"]


def test_fixture_near_duplicate_is_near():
    a = code_file(1)
    b = a.replace("import math", "import math  # square roots")
    assert jaccard(a, b, 5, "code") > 0.9
    assert jaccard(a, code_file(2), 5, "code") < 0.2


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_extract_filters_and_dedups_local_repos(repos, tmp_path, layout):
    repo_list = tmp_path / "repos.json"
    repo_list.write_text(json.dumps(repos["repo_list"]))
    out = tmp_path / "out"
    collect(
        "python",
        "extract",
        "--repos-dir",
        repos["root"],
        "--repo-list",
        repo_list,
        "--out",
        out,
        "--after",
        "2023-09-01",
        "--max-file-bytes",
        repos["big_bytes"] - 1,
        *LAYOUTS[layout],
    )

    rows = read_jsonl(out / "python.jsonl")
    assert sorted(r["meta"]["id"] for r in rows) == [
        "acme/alpha/pkg/geometry.py",
        "acme/alpha/pkg/stats_utils.py",
        "acme/alpha/vendored/helpers.py",
        "bob/beta/server.py",
    ]
    for r in rows:
        assert set(r) == {"content", "subset", "meta"} and r["subset"] == "python"
        assert r["meta"]["source"] == "github" and r["meta"]["date"] and r["meta"]["license"]
        assert r["content"] == (repos["root"] / r["meta"]["repo"].replace("/", "__") / r["meta"]["path"]).read_text()
    alpha = next(r["meta"] for r in rows if r["meta"]["repo"] == "acme/alpha")
    assert alpha["date"] == "2023-10-05T08:00:00Z" and alpha["date_source"] == "github_created_at"
    assert alpha["license"] == "MIT" and alpha["license_source"] == "github_api"
    assert alpha["url"].startswith("https://github.com/acme/alpha/blob/")
    beta = next(r["meta"] for r in rows if r["meta"]["repo"] == "bob/beta")
    assert beta["date"] == "2024-01-15T12:00:00Z" and beta["date_source"] == "head_commit"
    assert beta["license"] == "Apache-2.0" and beta["license_source"] == "license_file"

    manifest = json.loads((out / "python.manifest.json").read_text())
    check_manifest_counts(manifest, DOC_STEPS)
    assert step(manifest, "extract")["dropped"] == {"empty": 1, "not_utf8": 1, "out_of_date_range": 1, "too_large": 1}
    assert step(manifest, "extract")["in_docs"] == 14  # 11 .py in alpha, 2 in beta, 1 in legacy
    assert step(manifest, "exact_dedup")["dropped"] == {"exact_duplicate": 1}
    assert step(manifest, "quality")["dropped"] == {
        "auto_generated": 1,
        "long_line": 1,
        "low_alnum": 1,
        "mean_line_length": 1,
    }
    assert step(manifest, "near_dedup")["dropped"] == {"near_duplicate": 1}
    assert step(manifest, "sample")["dropped"] == {}
    assert manifest["date_range"] == {"after": "2023-09-01T00:00:00Z", "before": None}
    assert manifest["parameters"]["max_file_bytes"] == repos["big_bytes"] - 1

    # which copy went where, with the reason recorded in the work folder
    work = out / "work" / "python"
    dropped = {r["id"]: r["metadata"] for r in dropped_rows(work, "exact_dedup")}
    assert dropped["bob/beta/helpers.py"]["duplicate_of"] == "acme/alpha/vendored/helpers.py"
    near = dropped_rows(work, "near_dedup")
    assert [(r["id"], r["metadata"]["near_duplicate_of"]) for r in near] == [
        ("acme/alpha/pkg/geometry_copy.py", "acme/alpha/pkg/geometry.py")
    ]
    quality = {r["id"]: r["metadata"]["filter_reason"] for r in dropped_rows(work, "quality")}
    assert quality == {
        "acme/alpha/art.py": "low_alnum",
        "acme/alpha/data_table.py": "long_line",
        "acme/alpha/proto_pb2.py": "auto_generated",
        "acme/alpha/wide.py": "mean_line_length",
    }

    # resumable (datatrove's skip_completed): a new size target redoes the sampling only
    stats_before = stage_stats(work)
    total = manifest["final"]["chars"]
    collect(
        "python",
        "extract",
        "--repos-dir",
        repos["root"],
        "--repo-list",
        repo_list,
        "--out",
        out,
        "--after",
        "2023-09-01",
        "--max-file-bytes",
        repos["big_bytes"] - 1,
        "--target-chars",
        total // 2,
        "--seed",
        7,
        *LAYOUTS[layout],
    )
    stats_after = stage_stats(work)
    changed = sorted(n for n in stats_after if stats_after[n] != stats_before.get(n))
    assert changed == ["stages/07_sample/logs/stats/00000.json"]
    manifest = json.loads((out / "python.manifest.json").read_text())
    check_manifest_counts(manifest, DOC_STEPS)
    assert total // 2 <= manifest["final"]["chars"] < total
    assert step(manifest, "sample")["dropped"]["over_target"] >= 1

    # --force redoes everything, with the same result
    collect(
        "python",
        "extract",
        "--repos-dir",
        repos["root"],
        "--repo-list",
        repo_list,
        "--out",
        out,
        "--after",
        "2023-09-01",
        "--max-file-bytes",
        repos["big_bytes"] - 1,
        "--force",
        *LAYOUTS[layout],
    )
    forced = json.loads((out / "python.manifest.json").read_text())
    assert forced["final"]["chars"] == total


def test_code_quality_filter_thresholds():
    from datatrove.data import Document

    flt = CodeQualityFilter()

    def verdict(text):
        res = flt.filter(Document(text=text, id="x"))
        return res if res is True else res[1]

    assert verdict("x = 1\n" * 10) is True
    assert verdict("x = 1\n" + "y" * 1001 + "\n") == "long_line"
    assert verdict("x = 1\n" * 20 + "y" * 1000 + "\n") is True  # 1000 is allowed; mean 52
    assert verdict(("z" * 101 + "\n") * 3) == "mean_line_length"
    assert verdict("#" * 50 + "\nx = 1\n") == "low_alnum"
    assert verdict("# AUTOGENERATED FILE\nx = 1\n") == "auto_generated"
    assert verdict("\n" * 5 + "# generated by hand, do not edit below\nx = 1\n") is True  # past the first 5 lines


def test_detect_license(tmp_path):
    (tmp_path / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge, to any person")
    assert detect_license(tmp_path) == "MIT"
    (tmp_path / "LICENSE").write_text("GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n")
    assert detect_license(tmp_path) == "GPL-3.0"
    (tmp_path / "LICENSE").write_text("All rights reserved by the author.")
    assert detect_license(tmp_path) == "NOASSERTION"
    (tmp_path / "LICENSE").unlink()
    assert detect_license(tmp_path) is None


def _search_api(repos: list[dict]):
    """A stand-in for GET /search/repositories honouring ``created:A..B`` and ``stars:>=N``,
    paging with per_page/page, reporting total_count like GitHub."""

    def handler(path, query):
        q = query["q"]
        lo, hi = re.search(r"created:(\S+)\.\.(\S+)", q).groups()
        stars = int(re.search(r"stars:>=(\d+)", q).group(1))
        match = [r for r in repos if lo <= r["created_at"] <= hi and r["stargazers_count"] >= stars]
        match.sort(key=lambda r: -r["stargazers_count"])
        per, page = int(query["per_page"]), int(query["page"])
        body = {"total_count": len(match), "incomplete_results": False, "items": match[(page - 1) * per : page * per]}
        return 200, "application/json", json.dumps(body).encode()

    return handler


def test_search_clone_extract_with_local_api(repos, tmp_path, monkeypatch):
    def item(i, name, created, stars, clone_url, fork=False, license_="MIT"):
        return {
            "id": i,
            "full_name": name,
            "clone_url": clone_url,
            "html_url": f"https://github.com/{name}",
            "created_at": created,
            "stargazers_count": stars,
            "fork": fork,
            "default_branch": "main",
            "license": {"spdx_id": license_} if license_ else None,
            "size": 10,
        }

    broken = (tmp_path / "missing-repo").as_uri()
    db = [
        item(1, "acme/alpha", "2023-10-05T08:00:00Z", 42, repos["alpha"].as_uri()),
        item(2, "bob/beta", "2023-12-24T10:00:00Z", 15, repos["beta"].as_uri(), license_=None),
        item(3, "gone/ghost", "2024-01-20T00:00:00Z", 30, broken),  # clone fails
        item(4, "low/stars", "2023-11-01T00:00:00Z", 3, broken),  # too few stars
        item(5, "old/legacy", "2022-05-01T08:00:00Z", 99, repos["legacy"].as_uri()),  # before the cut-off
        item(6, "copy/fork", "2023-11-02T00:00:00Z", 50, broken, fork=True),  # the API says fork
    ]
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    out, work = tmp_path / "out", tmp_path / "work"
    args = [
        "--after",
        "2023-09-01",
        "--before",
        "2024-06-01",
        "--out",
        out,
        "--work",
        work,
        "--per-page",
        1,
        "--result-cap",
        2,
        "--delay",
        0,
    ]
    with serve({"/search/repositories": _search_api(db)}) as (base, log):
        collect("python", "all", "--api-url", base, *args)
        requests = list(log)
        manifest = json.loads((out / "python.manifest.json").read_text())
        # a second run finds everything done: no request, no new clone
        log.clear()
        collect("python", "all", "--api-url", base, *args)
        assert log == []
    assert requests and all(h.get("Authorization") == "Bearer test-token" for _, _, h in requests)
    assert all("fork:false" in q["q"] and "language:Python" in q["q"] for _, q, _ in requests)

    listed = json.loads((work / "repos.json").read_text())
    assert [r["full_name"] for r in listed] == ["acme/alpha", "bob/beta", "gone/ghost"]  # by creation date
    search = step(manifest, "search")
    assert search["repos"] == 3 and search["windows"] >= 2 and search["truncated_windows"] == []
    clone = step(manifest, "clone")
    assert (clone["cloned"], clone["failed"], clone["already_there"]) == (2, 1, 0)
    assert list(clone["failures"]) == ["gone__ghost"]
    assert (work / "repos" / "acme__alpha" / "pkg" / "geometry.py").exists()
    assert not (work / "repos" / "gone__ghost").exists()
    check_manifest_counts(manifest, DOC_STEPS)
    rows = read_jsonl(out / "python.jsonl")
    ids = sorted(r["meta"]["id"] for r in rows)
    assert ids == [
        "acme/alpha/big.py",
        "acme/alpha/pkg/geometry.py",
        "acme/alpha/pkg/stats_utils.py",
        "acme/alpha/vendored/helpers.py",
        "bob/beta/server.py",
    ]
    beta = next(r["meta"] for r in rows if r["meta"]["repo"] == "bob/beta")
    # listed without an API licence: the LICENSE file decides; the date is GitHub's creation date
    assert beta["date"] == "2023-12-24T10:00:00Z" and beta["license"] == "Apache-2.0"

    clone = step(json.loads((out / "python.manifest.json").read_text()), "clone")
    assert (clone["cloned"], clone["already_there"], clone["failed"]) == (0, 2, 1)


def test_search_needs_after(tmp_path):
    with pytest.raises(SystemExit, match="--after"):
        collect("python", "search", "--work", tmp_path)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"dir": "../escaped"}, "has dir '../escaped', not a plain folder name"),
        ({"dir": ".."}, "has dir '..', not a plain folder name"),
        ({"clone_url": "--upload-pack=touch pwned"}, "not a URL"),
    ],
)
def test_repo_list_cannot_reach_outside_the_repositories_folder(repos, tmp_path, entry, message):
    """``dir`` values name one folder inside the repositories folder; a clone URL is never an option."""
    listed = [{**repos["repo_list"][0], **entry}]
    (tmp_path / "repos.json").write_text(json.dumps(listed))
    work = tmp_path / "work"
    with pytest.raises(SystemExit, match=re.escape(message)):
        collect("python", "clone", "--repo-list", tmp_path / "repos.json", "--work", work, "--no-progress")
    assert not (work / "escaped").exists() and not (tmp_path / "escaped").exists()
    assert not (work / "repos").exists()


def test_clone_url_is_passed_after_double_dash(tmp_path):
    """git reads the clone URL as a URL even when it looks like an option."""
    repos_dir = tmp_path / "repos"
    repos_dir.mkdir()
    name, status = clone_one({"dir": "x__y", "clone_url": "--version"}, repos_dir, 60)
    assert (name, status) == ("x__y", "failed: fatal: repository '--version' does not exist")
    assert list(repos_dir.iterdir()) == []


def test_search_waits_out_the_secondary_rate_limit(monkeypatch):
    """GitHub's secondary rate limit answers 403 with Retry-After: the search waits that long and goes on."""
    answers = [
        (403, "application/json", b'{"message": "You have exceeded a secondary rate limit"}', {"Retry-After": "1"}),
        (200, "application/json", json.dumps({"total_count": 0, "incomplete_results": False, "items": []}).encode()),
    ]
    waits = []
    monkeypatch.setattr("lm_eval_compression.collect.github.time.sleep", waits.append)
    with serve({"/search/repositories": lambda path, query: answers.pop(0)}) as (base, log):
        gh = GitHubSearch(base, delay=0, show_progress=False)
        repos, info = gh.search("Python", 10, parse_date("2024-01-01"), parse_date("2024-01-02"))
    assert repos == [] and len(log) == 2 and waits == [1.0]
