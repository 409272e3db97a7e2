"""Options every pipeline shares: output, dates, sampling, dedup, and where it runs
(``--executor local|ray|slurm`` with tasks, workers and the Slurm and Ray settings)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .dates import DateRange
from .stages import EXECUTORS


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", default="fresh_corpora", help="output folder, usable as the tasks' data_dir (default: %(default)s)"
    )
    p.add_argument("--work", default=None, help="work folder for resumable stages (default: <out>/work/<area>)")
    p.add_argument(
        "--after", default=None, help="keep only material created on/after this date (YYYY-MM-DD or ISO date-time)"
    )
    p.add_argument("--before", default=None, help="keep only material created before this date")
    p.add_argument("--force", action="store_true", help="redo stages that finished before")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--target-chars", type=int, default=None, help="sample documents until this many characters (default: keep all)"
    )
    p.add_argument("--seed", type=int, default=1234, help="seed of the sampling order (default: %(default)s)")
    p.add_argument(
        "--decontaminate",
        action="append",
        default=[],
        metavar="REF.jsonl",
        help="drop documents sharing a word n-gram with this reference corpus (repeatable)",
    )
    p.add_argument("--ngram", type=int, default=13, help="n of the contamination n-grams (default: 13)")
    p.add_argument(
        "--near-dup-threshold",
        type=float,
        default=0.85,
        help="MinHash LSH Jaccard threshold of near-duplicate removal (default: %(default)s)",
    )
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default: %(default)s)")
    g = p.add_argument_group("execution (datatrove executors)")
    g.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local processes, a Ray cluster, or Slurm jobs (default: %(default)s)",
    )
    g.add_argument("--tasks", type=int, default=1, help="tasks the input is split into (default: %(default)s)")
    g.add_argument(
        "--workers", type=int, default=1, help="tasks run at the same time, -1 for all (default: %(default)s)"
    )
    g.add_argument("--partition", default=None, help="Slurm partition (needed with --executor slurm)")
    g.add_argument("--time", default="24:00:00", help="Slurm time limit per job (default: %(default)s)")
    g.add_argument("--cpus-per-task", type=int, default=1, help="CPUs per task, Slurm and Ray (default: %(default)s)")
    g.add_argument(
        "--mem-per-cpu-gb", type=float, default=2, help="memory per CPU in GB, Slurm and Ray (default: %(default)s)"
    )
    g.add_argument("--job-name", default=None, help="Slurm job name prefix (default: collect_<area>)")
    g.add_argument("--venv", default=None, help="Slurm: activate script of the virtual environment to source")
    g.add_argument(
        "--sbatch-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra #SBATCH directive, e.g. account=myproj (repeatable)",
    )
    g.add_argument("--ray-address", default=None, help="Ray cluster to join (default: start or join a local one)")


def date_range_of(args) -> DateRange:
    """``--after``/``--before`` as a DateRange; a bad range is a usage error.  Also checks the other
    shared settings (:func:`check_args`), so every pipeline refuses bad input before it starts."""
    check_args(args)
    try:
        return DateRange(args.after, args.before)
    except ValueError as e:
        raise SystemExit(f"bad date range: {e}") from None


def work_dir(args, area: str) -> Path:
    return Path(args.work) if args.work else Path(args.out) / "work" / area


def public_params(args) -> dict:
    return {k: v for k, v in vars(args).items() if not callable(v)}


def check_args(args) -> None:
    """Settings that would fail late (on a cluster, after the downloads) are refused before any work."""
    if not 0 < args.near_dup_threshold <= 1:
        raise SystemExit(f"--near-dup-threshold must be in (0, 1], not {args.near_dup_threshold}")
    if args.num_perm < 2:
        raise SystemExit(f"--num-perm must be at least 2, not {args.num_perm}")
    if args.target_chars is not None and args.target_chars < 1:
        raise SystemExit(f"--target-chars must be positive, not {args.target_chars}")
    for ref in args.decontaminate:
        if not Path(ref).is_file():
            raise SystemExit(f"--decontaminate {ref}: no such file")
    if args.tasks < 1:
        raise SystemExit(f"--tasks must be at least 1, not {args.tasks}")
    if args.workers < 1 and args.workers != -1:
        raise SystemExit(f"--workers must be at least 1 (or -1: as many as tasks), not {args.workers}")
    for item in args.sbatch_arg:
        if "=" not in item or not item.split("=", 1)[0]:
            raise SystemExit(f"--sbatch-arg {item!r}: expected KEY=VALUE (e.g. account=myproj)")
    if args.executor == "slurm" and not args.partition:
        raise SystemExit("--executor slurm needs --partition")
    if args.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise SystemExit("--executor ray needs the ray package (pip install -e '.[collect]')") from None
