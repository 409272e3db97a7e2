"""What the collection pipeline tests share: running ``collect``, reading what it wrote, git repositories,
and a loopback HTTP server that plays GitHub's search API, arXiv's OAI-PMH/e-print endpoints and a
Common Crawl file host.  LaTeX sources are in ``latex_sources``, WARC files in ``web_pages``.  Nothing here
reaches the network."""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from lm_eval_compression.collect import main as collect_main


def collect(*args) -> int:
    """Run ``python -m lm_eval_compression collect ...`` in this process (imports are shared)."""
    rc = collect_main([str(a) for a in args])
    assert rc == 0, f"collect {' '.join(map(str, args))} returned {rc}"
    return rc


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# the pipelines' task layouts every end-to-end test runs with: one task, and two tasks on two local workers
LAYOUTS = {"1task": [], "2tasks": ["--tasks", "2", "--workers", "2"]}


def dropped_rows(work, step_name: str) -> list[dict]:
    """The documents a step dropped (datatrove's exclusion writers, one file per task), in id order."""
    rows = [r for f in sorted(Path(work).glob(f"stages/*/dropped/{step_name}/*.jsonl")) for r in read_jsonl(f)]
    return sorted(rows, key=lambda r: r["id"])


def stage_stats(work) -> dict[str, str]:
    """datatrove's per-task stats files of every stage but the manifest (which runs each time)."""
    return {
        str(p.relative_to(work)): p.read_text()
        for p in Path(work).glob("stages/*/logs/stats/*.json")
        if "_manifest" not in str(p)
    }


def step(manifest: dict, name: str) -> dict:
    return next(s for s in manifest["steps"] if s["name"] == name)


def check_manifest_counts(manifest: dict, doc_steps: list[str]) -> None:
    """Counts add up inside every document step, and each step reads what the one before wrote."""
    names = [s["name"] for s in manifest["steps"] if s["kind"] == "documents"]
    assert names == doc_steps, names
    prev = None
    for s in manifest["steps"]:
        if s["kind"] != "documents":
            continue
        assert s["in_docs"] == s["out_docs"] + sum(s["dropped"].values()), s
        if prev is not None:
            assert s["in_docs"] == prev["out_docs"], (prev["name"], s["name"])
            assert s["in_chars"] == prev["out_chars"], (prev["name"], s["name"])
            assert s["in_chars"] == s["out_chars"] + sum(s["dropped_chars"].values()), s
        prev = s
    assert manifest["final"]["docs"] == prev["out_docs"]
    assert manifest["final"]["chars"] == prev["out_chars"]
    for lib in ("datatrove", "datasketch", "python"):
        assert lib in manifest["libraries"]


# ------------------------------------------------------------------ HTTP


class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}
    log: list = []

    def do_GET(self):  # noqa: N802
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.log.append((url.path, query, dict(self.headers)))
        for prefix, fn in self.routes.items():
            if url.path.startswith(prefix):
                status, ctype, body, *extra = fn(url.path, query)
                break
        else:
            status, ctype, body, extra = 404, "text/plain", b"not found", []
        headers = {"Content-Type": ctype, "Content-Length": str(len(body)), **(extra[0] if extra else {})}
        self.send_response(status)
        for key, value in headers.items():
            if value is not None:  # None leaves a header out (no Content-Length: the body ends with the connection)
                self.send_header(key, value)
        if headers["Content-Length"] is None:
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(routes: dict):
    """A server on 127.0.0.1 (any free port): ``routes`` maps a path prefix to
    ``fn(path, query) -> (status, content_type, body[, headers])``.  Yields (base_url, request_log)."""
    handler = type("Handler", (_Handler,), {"routes": routes, "log": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ------------------------------------------------------------------ git repositories

WORDS = (
    "alpha beta gamma delta sigma omega vector matrix tensor graph node edge cache queue stack heap "
    "parser lexer token buffer stream socket packet frame window cursor record table column index "
    "filter mapper reducer batch shard worker thread signal event handler router session client "
    "server payload schema field value weight score metric sample random seed entropy"
).split()


def code_file(seed: int, functions: int = 12) -> str:
    """Plausible Python; files from different seeds share almost no 5-token shingles."""
    rng = random.Random(seed)
    lines = [f'"""Helpers number {seed}: small numeric utilities."""', "import math", ""]
    for i in range(functions):
        a, b, c = rng.sample(WORDS, 3)
        lines += [
            f"def {a}_{b}_{i}({c}, scale={rng.randint(1, 99)}):",
            f'    """Return the {a} {b} of {c}, scaled by {rng.randint(2, 9)}."""',
            f"    total = {rng.randint(0, 999)}",
            f"    for {b} in range(len({c})):",
            f"        total += {c}[{b}] * scale - {rng.randint(1, 50)}",
            f"    return math.sqrt(abs(total)) + {rng.random():.4f}",
            "",
        ]
    return "\n".join(lines) + "\n"


def git(repo: Path, *args: str, date: str | None = None) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def make_repo(path: Path, files: dict[str, str | bytes], date: str = "2024-01-15T12:00:00+00:00") -> Path:
    """A git repository with ``files`` in one commit made at ``date``."""
    path.mkdir(parents=True)
    for name, content in files.items():
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial", date=date)
    return path


def python_repos(root: Path) -> dict:
    """Three repositories and what should happen to each file.

    ``acme__alpha`` (listed, created 2023-10-05, MIT): two good files, a near-duplicate of one of them,
    the first copy of a file duplicated in ``bob__beta``, and one file for each filter.
    ``bob__beta`` (not listed: date from its HEAD commit, licence from its LICENSE file): the second copy
    and one good file.  ``old__legacy`` (listed, created 2022-05-01): before the cut-off.
    """
    geometry = code_file(1)
    near = geometry.replace("import math", "import math  # square roots")
    helpers = code_file(3)
    long_line = code_file(4) + "TABLE = [" + ", ".join(str(i) for i in range(400)) + "]\n"
    wide = "\n".join(f'MESSAGE_{i} = "{" ".join(random.Random(i).choices(WORDS, k=22))}"' for i in range(12)) + "\n"
    generated = (
        "# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n"
        "# source: thing.proto\n" + code_file(5)
    )
    art = (
        "\n".join(
            [
                "BANNER = '''",
                *["#=*=*=*=#  ~~~~  <<>>  ----  ....  ++++  ****  |||| ;;; #"] * 20,
                "'''",
                "print(BANNER)",
            ]
        )
        + "\n"
    )
    alpha = make_repo(
        root / "acme__alpha",
        {
            "pkg/geometry.py": geometry,
            "pkg/stats_utils.py": code_file(2),
            "pkg/geometry_copy.py": near,
            "vendored/helpers.py": helpers,
            "data_table.py": long_line,
            "wide.py": wide,
            "proto_pb2.py": generated,
            "art.py": art,
            "big.py": code_file(6, functions=200),
            "latin1.py": "# caf\xe9\nX = 1\n".encode("latin-1"),
            "empty.py": "\n\n",
            "README.md": "# alpha\n",
        },
    )
    beta = make_repo(
        root / "bob__beta",
        {
            "helpers.py": helpers,
            "server.py": code_file(7),
            "LICENSE": " " * 33 + "Apache License\n" + " " * 27 + "Version 2.0, January 2004\n",
        },
        date="2024-01-15T12:00:00+00:00",
    )
    legacy = make_repo(root / "old__legacy", {"legacy.py": code_file(8)})
    repo_list = [
        {
            "full_name": "acme/alpha",
            "clone_url": alpha.as_uri(),
            "html_url": "https://github.com/acme/alpha",
            "created_at": "2023-10-05T08:00:00Z",
            "stars": 42,
            "license": "MIT",
        },
        {
            "full_name": "old/legacy",
            "clone_url": legacy.as_uri(),
            "html_url": "https://github.com/old/legacy",
            "created_at": "2022-05-01T08:00:00Z",
            "stars": 99,
            "license": "MIT",
        },
    ]
    return {
        "root": root,
        "repo_list": repo_list,
        "alpha": alpha,
        "beta": beta,
        "legacy": legacy,
        "big_bytes": len(code_file(6, functions=200).encode()),
    }
