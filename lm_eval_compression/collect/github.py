"""GitHub: repository search (past the API's 1000-result cap), shallow clones, and what a clone says
about itself (creation date, licence)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from .dates import iso, parse_date
from .files import is_plain_name
from .network import PoliteSession

GITHUB_API = "https://api.github.com"
RESULT_CAP = 1000  # the search API serves at most this many results per query
RATE_LIMIT_TRIES = 5
LICENSE_FILES = (
    "LICENSE",
    "LICENCE",
    "COPYING",
    "LICENSE.md",
    "LICENSE.txt",
    "LICENCE.md",
    "LICENCE.txt",
    "COPYING.md",
    "COPYING.txt",
    "LICENSE.rst",
)


def rate_limit_pause(r) -> float | None:
    """Seconds to wait when a 403 answer is one of GitHub's rate limits, else None."""
    if r.status_code != 403:
        return None
    retry_after = r.headers.get("Retry-After", "")
    if retry_after.strip().isdigit():  # secondary rate limit
        return float(retry_after)
    if r.headers.get("X-RateLimit-Remaining") == "0":  # primary rate limit: wait for the reset
        return float(r.headers.get("X-RateLimit-Reset", time.time())) - time.time() + 1
    return None


class GitHubSearch:
    """Paged, rate-limit-aware queries of ``/search/repositories`` with date windows past the result cap."""

    def __init__(
        self,
        api_url: str = GITHUB_API,
        token: str | None = None,
        per_page: int = 100,
        delay: float = 2.1,
        max_wait: float = 900.0,
        result_cap: int = RESULT_CAP,
        show_progress: bool = True,
    ):
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.api_url = api_url.rstrip("/")
        self.client = PoliteSession(delay, headers=headers)
        self.per_page = per_page
        self.max_wait = max_wait
        self.result_cap = result_cap
        self.show_progress = show_progress

    def _get(self, params: dict) -> dict:
        """One search request; retries (429, 5xx, connection errors) are the session's; a 403 that is a rate
        limit waits and tries again: the primary limit (``X-RateLimit-Remaining: 0``) until its reset, the
        secondary limit as long as ``Retry-After`` says, each at most ``max_wait``."""
        for _ in range(RATE_LIMIT_TRIES):
            r = self.client.get(f"{self.api_url}/search/repositories", params=params, timeout=60)
            pause = rate_limit_pause(r)
            if pause is None:
                r.raise_for_status()
                return r.json()
            pause = max(0.0, min(pause, self.max_wait))
            print(f"[collect] search: rate limited, waiting {pause:.0f}s", file=sys.stderr)
            time.sleep(pause)
        raise RuntimeError(f"GitHub search stayed rate limited for {params}")

    def query(self, language: str, min_stars: int, start: dt.datetime, end: dt.datetime) -> str:
        return f"language:{language} fork:false stars:>={min_stars} created:{iso(start)}..{iso(end)}"

    def search(self, language: str, min_stars: int, start: dt.datetime, end: dt.datetime) -> tuple[list[dict], dict]:
        """All repositories created in ``[start, end]`` (both inclusive, second resolution)."""
        found: dict[int, dict] = {}
        windows, done_windows, truncated, incomplete = [(start, end)], 0, [], []
        bar = tqdm(desc="search", unit="repo", disable=not self.show_progress)
        while windows:
            a, b = windows.pop()
            q = self.query(language, min_stars, a, b)
            first = self._get({"q": q, "per_page": self.per_page, "page": 1, "sort": "stars", "order": "desc"})
            total = int(first.get("total_count", 0))
            if total > self.result_cap and (b - a) > dt.timedelta(seconds=1):
                mid = a + (b - a) / 2
                mid = mid.replace(microsecond=0)
                windows += [(mid + dt.timedelta(seconds=1), b), (a, mid)]
                continue
            if total > self.result_cap:
                truncated.append(q)
            if first.get("incomplete_results"):
                incomplete.append(q)
            items = list(first.get("items", []))
            pages = -(-min(total, self.result_cap) // self.per_page)
            for page in range(2, pages + 1):
                items += self._get(
                    {"q": q, "per_page": self.per_page, "page": page, "sort": "stars", "order": "desc"}
                ).get("items", [])
            for item in items:
                if item.get("fork"):
                    continue
                if item["id"] not in found:
                    found[item["id"]] = repo_record(item)
                    bar.update(1)
            done_windows += 1
        bar.close()
        repos = sorted(found.values(), key=lambda r: (r["created_at"], r["full_name"]))
        # truncated: still over the cap at one second; incomplete: GitHub timed out and may have left results out
        return repos, {
            "windows": done_windows,
            "requests": self.client.requests,
            "truncated_windows": truncated,
            "incomplete_windows": incomplete,
        }


def repo_record(item: dict) -> dict:
    """The fields of a search result that the later steps use."""
    lic = item.get("license") or {}
    return {
        "full_name": item["full_name"],
        "dir": item["full_name"].replace("/", "__"),
        "clone_url": item.get("clone_url") or f"https://github.com/{item['full_name']}.git",
        "html_url": item.get("html_url"),
        "created_at": item.get("created_at"),
        "stars": item.get("stargazers_count"),
        "license": lic.get("spdx_id"),
        "default_branch": item.get("default_branch"),
        "size_kb": item.get("size"),
    }


def load_repo_list(path: str | os.PathLike | None) -> dict[str, dict]:
    """``repos.json`` (a JSON list of repo records, or ``{"repos": [...]}``) keyed by folder name.

    A record's ``dir`` (default ``owner__name``) must name one folder inside the repositories folder,
    and its ``clone_url`` must not look like an option; anything else is refused before any clone."""
    if not path:
        return {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("repos", [])
    out = {}
    for i, r in enumerate(data):
        r = dict(r)
        r.setdefault("dir", str(r.get("full_name", "")).replace("/", "__"))
        if not isinstance(r["dir"], str) or not is_plain_name(r["dir"]):
            raise SystemExit(f"{path}: entry {i} has dir {r['dir']!r}, not a plain folder name")
        if str(r.get("clone_url", "")).startswith("-"):
            raise SystemExit(f"{path}: entry {i} has clone_url {r['clone_url']!r}, not a URL")
        out[r["dir"]] = r
    return out


def clone_one(repo: dict, repos_dir: Path, timeout: float) -> tuple[str, str]:
    """Shallow-clone one repository into ``repos_dir/<dir>``; returns (dir, "cloned"|"exists"|"failed: ...")."""
    if not is_plain_name(repo["dir"]):
        raise ValueError(f"refusing to clone into {repos_dir}/{repo['dir']}: not a plain folder name")
    dest = repos_dir / repo["dir"]
    if (dest / ".git").exists():
        return dest.name, "exists"
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    cmd = ["git", "clone", "--depth", "1", "--single-branch", "--no-tags", "--quiet", "--", repo["clone_url"]]
    try:
        proc = subprocess.run([*cmd, str(partial)], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        shutil.rmtree(partial, ignore_errors=True)
        return dest.name, "failed: timeout"
    if proc.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        lines = proc.stderr.strip().splitlines() or ["git error"]
        return dest.name, "failed: " + next((x for x in lines if x.startswith("fatal:")), lines[-1])[:200]
    os.replace(partial, dest)
    return dest.name, "cloned"


def clone_all(repos: list[dict], repos_dir: Path, jobs: int, timeout: float, show_progress: bool) -> dict:
    repos_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, str] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(clone_one, r, repos_dir, timeout) for r in repos]
        for fut in tqdm(
            concurrent.futures.as_completed(futures),
            desc="clone",
            total=len(futures),
            unit="repo",
            disable=not show_progress,
        ):
            name, status = fut.result()
            results[name] = status
    failed = {k: v for k, v in sorted(results.items()) if v.startswith("failed")}
    cloned = sum(v == "cloned" for v in results.values())
    return {
        "repos": len(repos),
        "cloned": cloned,
        "changed": cloned > 0,
        "already_there": sum(v == "exists" for v in results.values()),
        "failed": len(failed),
        "failures": dict(list(failed.items())[:50]),
    }


def git_output(repo: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def detect_license(repo: Path) -> str | None:
    """SPDX id of a root licence file, from its well-known wording; ``NOASSERTION`` when unrecognised."""
    for name in LICENSE_FILES:
        path = repo / name
        if path.is_file():
            text = " ".join(path.read_text(encoding="utf-8", errors="replace")[:20000].split()).lower()
            break
    else:
        return None
    rules = [
        ("gnu affero general public license", "AGPL-3.0"),
        ("gnu lesser general public license", "LGPL-3.0" if "version 3" in text else "LGPL-2.1"),
        ("gnu general public license", "GPL-3.0" if "version 3" in text else "GPL-2.0"),
        ("apache license", "Apache-2.0"),
        ("mozilla public license", "MPL-2.0"),
        ("permission is hereby granted, free of charge", "MIT"),
        ("mit license", "MIT"),
        (
            "redistribution and use in source and binary forms",
            "BSD-3-Clause" if "neither the name" in text else "BSD-2-Clause",
        ),
        ("free and unencumbered software released into the public domain", "Unlicense"),
        ("permission to use, copy, modify, and/or distribute this software for any purpose", "ISC"),
    ]
    for needle, spdx in rules:
        if needle in text:
            return spdx
    return "NOASSERTION"


def repo_metadata(repo: Path, listed: dict | None) -> dict:
    """Repository name, creation date and licence: from the API record when listed, else from the
    clone (HEAD commit date, root licence file)."""
    listed = listed or {}
    commit = git_output(repo, "rev-parse", "HEAD")
    meta = {
        "source": "github",
        "repo": listed.get("full_name") or repo.name.replace("__", "/", 1),
        "date": listed.get("created_at"),
        "date_source": "github_created_at" if listed.get("created_at") else None,
        "license": listed.get("license"),
        "license_source": "github_api" if listed.get("license") else None,
        "stars": listed.get("stars"),
        "commit": commit,
    }
    if meta["date"] is None:
        head_date = git_output(repo, "log", "-1", "--format=%cI")
        if head_date:
            meta["date"], meta["date_source"] = iso(parse_date(head_date)), "head_commit"
    if meta["license"] in (None, "NOASSERTION"):
        found = detect_license(repo)
        if found:
            meta["license"], meta["license_source"] = found, "license_file"
    if listed.get("html_url") and commit:
        meta["url_base"] = f"{listed['html_url']}/blob/{commit}/"
    return meta


def list_repos(repos_dir: Path) -> list[Path]:
    return sorted(
        p for p in repos_dir.iterdir() if p.is_dir() and not p.name.endswith(".partial") and not p.name.startswith(".")
    )
