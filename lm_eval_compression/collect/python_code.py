"""``collect python``: Python files from GitHub repositories created after a cut-off (the paper's corpus).

``search``   GitHub search API: non-fork repositories in a language, created in ``[--after, --before)``,
             with at least ``--min-stars`` stars; the date range is halved until every window is under
             the API's 1000-result cap.  Writes ``repos.json``.
``clone``    ``git clone --depth 1`` of every listed repository into ``<work>/repos/<owner>__<name>``.
``extract``  the document stages on local repositories (any folder of them, with or without
             ``repos.json``): ``*.py`` files up to ``--max-file-bytes`` with repository, path, creation date
             and licence; exact dedup, the paper's quality filters (longest line, mean line length,
             alphanumeric share, auto-generated markers), MinHash near-dedup (Jaccard 0.85), optional
             decontamination and sampling to ``--target-chars``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
from pathlib import Path

from .fetch import run_fetch
from .files import file_digest, fingerprint, write_json
from .filters import AUTOGEN_MARKERS, CodeQualityFilter
from .github import GITHUB_API, RESULT_CAP, GitHubSearch, clone_all, git_output, list_repos, load_repo_list
from .options import PipelineOptions, add_area_parser, pipeline_options
from .pipeline import AreaPipeline, run_area
from .readers import RepoFileReader
from .steps import dropped_writer

AREA = "python"
STEPS = ("search", "clone", "extract", "all")


def add_parser(sub) -> None:
    p = add_area_parser(
        sub,
        AREA,
        "Python files from GitHub repositories created after a cut-off",
        __doc__,
        STEPS,
        "search | clone | extract | all (search, clone, extract)",
    )
    g = p.add_argument_group("search")
    g.add_argument("--api-url", default=GITHUB_API, help="GitHub API base URL (default: %(default)s)")
    g.add_argument("--language", default="Python")
    g.add_argument("--min-stars", type=int, default=10)
    g.add_argument("--per-page", type=int, default=100)
    g.add_argument(
        "--delay",
        type=float,
        default=2.1,
        help="seconds between search requests (30/minute with a token) (default: %(default)s)",
    )
    g.add_argument("--result-cap", type=int, default=RESULT_CAP, help=argparse.SUPPRESS)
    g = p.add_argument_group("clone")
    g.add_argument("--repo-list", default=None, help="repos.json from search (default: <work>/repos.json if present)")
    g.add_argument("--repos-dir", default=None, help="folder of local repositories (default: <work>/repos)")
    g.add_argument("--max-repos", type=int, default=None, help="clone a seeded random sample of this many")
    g.add_argument("--jobs", type=int, default=4, help="parallel clones (default: %(default)s)")
    g.add_argument("--clone-timeout", type=float, default=600)
    g = p.add_argument_group("extract")
    g.add_argument("--max-file-bytes", type=int, default=1_000_000)
    g.add_argument("--extensions", default=".py", help="comma-separated file endings (default: %(default)s)")
    g.add_argument("--max-line-length", type=int, default=1000)
    g.add_argument("--max-mean-line-length", type=float, default=100)
    g.add_argument("--min-alnum-fraction", type=float, default=0.25)
    g.add_argument("--autogen-lines", type=int, default=5)
    p.set_defaults(func=run)


def search_step(args: argparse.Namespace, options: PipelineOptions, repo_list: Path) -> None:
    date_range = options.date_range
    if date_range.after is None:
        raise SystemExit("search needs --after (the cut-off date)")
    end = (date_range.before or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)) - dt.timedelta(seconds=1)
    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        print(
            "[collect] warning: GITHUB_TOKEN is not set; unauthenticated search allows 10 requests/minute",
            file=sys.stderr,
        )
    gh = GitHubSearch(
        args.api_url, token, args.per_page, args.delay, result_cap=args.result_cap, show_progress=options.progress
    )

    def fetch() -> dict:
        repos, info = gh.search(args.language, args.min_stars, date_range.after, end)
        write_json(repo_list, repos)
        return {"repos": len(repos), **info, "output": str(repo_list)}

    run_fetch(
        options.work,
        "search",
        fetch,
        {"language": args.language, "min_stars": args.min_stars, **date_range.to_json(), "api_url": args.api_url},
        [repo_list],
        force=options.force,
    )


def clone_step(args: argparse.Namespace, options: PipelineOptions, repo_list: Path, repos_dir: Path) -> None:
    if not repo_list.exists():
        raise SystemExit(f"no repository list {repo_list}: run the search step or pass --repo-list")
    listed = list(load_repo_list(repo_list).values())
    if args.max_repos is not None and len(listed) > args.max_repos:
        listed = random.Random(options.seed).sample(listed, args.max_repos)
    # resumable per repository: it always runs, and keeps the clones already there
    stats = run_fetch(
        options.work,
        "clone",
        lambda: {
            **clone_all(listed, repos_dir, args.jobs, args.clone_timeout, options.progress),
            "repos_dir": str(repos_dir),
        },
        {"repo_list": str(repo_list), "max_repos": args.max_repos, "seed": options.seed},
        always=True,
    )
    if stats.get("failed"):
        print(f"[collect] clone: {stats['failed']} repositories failed (see clone.stats.json)", file=sys.stderr)


def extract_pipeline(args: argparse.Namespace, options: PipelineOptions, repo_list: Path, repos_dir: Path):
    """The repository reader, the paper's code filters after exact dedup, and what the manifest says."""
    listed = load_repo_list(repo_list if repo_list.exists() else None)
    exts = tuple(e.strip() for e in args.extensions.split(",") if e.strip())
    quality = {
        "max_line_length": args.max_line_length,
        "max_mean_line_length": args.max_mean_line_length,
        "min_alnum_fraction": args.min_alnum_fraction,
        "autogen_lines": args.autogen_lines,
    }
    return AreaPipeline(
        area=AREA,
        reader=lambda f: [
            RepoFileReader(
                str(repos_dir),
                listed,
                options.date_range,
                args.max_file_bytes,
                exts,
                exclusion_writer=dropped_writer(f, "extract"),
            )
        ],
        reader_params={
            "repos_dir": str(repos_dir),
            "repo_list": str(repo_list) if listed else None,
            "repo_list_digest": file_digest(repo_list) if listed else None,
            "repos": fingerprint(p.name for p in list_repos(repos_dir)),
            **options.date_range.to_json(),
            "max_file_bytes": args.max_file_bytes,
            "extensions": list(exts),
        },
        late_filters=lambda f: [CodeQualityFilter(**quality, exclusion_writer=dropped_writer(f, "quality"))],
        late_params={**quality, "autogen_markers": list(AUTOGEN_MARKERS)},
        shingle_mode="code",
        fetch_steps=tuple(n for n in ("search", "clone") if (options.work / f"{n}.stats.json").exists()),
        manifest_extra={"git": git_output(Path("."), "--version")},
    )


def run(args: argparse.Namespace) -> int:
    options = pipeline_options(args, AREA)
    options.work.mkdir(parents=True, exist_ok=True)
    repo_list = Path(args.repo_list) if args.repo_list else options.work / "repos.json"
    repos_dir = Path(args.repos_dir) if args.repos_dir else options.work / "repos"
    if args.step in ("search", "all"):
        search_step(args, options, repo_list)
    if args.step in ("clone", "all"):
        clone_step(args, options, repo_list, repos_dir)
    if args.step in ("extract", "all"):
        if not repos_dir.is_dir():
            raise SystemExit(f"no repositories folder {repos_dir} (run the clone step or pass --repos-dir)")
        run_area(extract_pipeline(args, options, repo_list, repos_dir), options)
    return 0
