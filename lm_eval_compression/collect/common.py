"""Pieces shared by the three collection pipelines.

* Documents are datatrove ``Document`` objects; work files hold them in datatrove's own JSON-lines
  layout (``{"id", "text", "metadata"}``) so that datatrove's ``JsonlReader`` can read a work folder.
* Every step writes its output and a ``<step>.stats.json`` into the work folder.  A step whose output
  exists (and was made with the same parameters) is skipped on the next run unless ``--force``; once a
  step runs, every later step runs again, so outputs never mix results of different runs.
* The final corpus is ``<out>/<area>.jsonl`` in the evaluation schema
  ``{"content", "subset", "meta"}`` (so ``<out>`` works as a task's ``data_dir``), with
  ``<out>/<area>.manifest.json`` beside it: counts and characters at every step, parameters, the date
  range and library versions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Iterator

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result
from tqdm.auto import tqdm

AREAS = ("python", "arxiv_math", "cc")

# distributions whose versions go into every manifest (missing ones are left out)
LIBRARIES = (
    "lm-eval-compression", "datatrove", "datasketch", "xxhash", "warcio", "trafilatura", "resiliparse",
    "lingua-language-detector", "spacy", "pypandoc-binary", "requests", "tqdm",
)


# ---------------------------------------------------------------- dates


def parse_date(text: str | None) -> dt.datetime | None:
    """``YYYY-MM-DD`` or an ISO 8601 date-time (``Z`` allowed) -> aware UTC datetime; None stays None."""
    if text is None or text == "":
        return None
    if isinstance(text, dt.datetime):
        value = text
    else:
        text = str(text).strip().replace("Z", "+00:00")
        value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DateRange:
    """Half-open range ``[after, before)``; either end may be open (None)."""

    def __init__(self, after=None, before=None):
        self.after = parse_date(after)
        self.before = parse_date(before)
        if self.after and self.before and self.after >= self.before:
            raise ValueError(f"--after {iso(self.after)} must be earlier than --before {iso(self.before)}")

    def __contains__(self, value) -> bool:
        value = parse_date(value)
        if value is None:  # unknown date: cannot prove it is fresh
            return self.after is None and self.before is None
        if self.after is not None and value < self.after:
            return False
        if self.before is not None and value >= self.before:
            return False
        return True

    def to_json(self) -> dict:
        return {"after": iso(self.after), "before": iso(self.before)}


# ---------------------------------------------------------------- JSON lines


def doc_to_json(doc: Document) -> dict:
    return {"id": doc.id, "text": doc.text, "metadata": doc.metadata}


def read_docs(path: str | os.PathLike) -> Iterator[Document]:
    """Documents from a work file (datatrove's JSON-lines layout)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                yield Document(text=row["text"], id=row["id"], metadata=row.get("metadata") or {})


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


class AtomicWriter:
    """Write a text file under a temporary name and move it into place on success only, so that a
    half-written file never looks like a finished step."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.tmp, "w", encoding="utf-8")
        return self.f

    def __exit__(self, exc_type, exc, tb):
        self.f.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def write_json(path, data) -> None:
    with AtomicWriter(path) as f:
        json.dump(data, f, indent=2, ensure_ascii=False, sort_keys=False)
        f.write("\n")


def json_line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def to_eval_row(doc: Document, area: str) -> dict:
    """A document in the evaluation schema read by the compression tasks."""
    return {"content": doc.text, "subset": area, "meta": {"id": doc.id, **doc.metadata}}


# ---------------------------------------------------------------- progress, versions


def progress(iterable: Iterable | None = None, desc: str = "", total: int | None = None, unit: str = "doc",
             enabled: bool = True, **kwargs):
    """A tqdm bar on stderr (``--no-progress`` turns it off)."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not enabled, dynamic_ncols=True,
                file=sys.stderr, **kwargs)


def library_versions(extra: Iterable[str] = ()) -> dict:
    versions = {"python": platform.python_version()}
    for name in (*LIBRARIES, *extra):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


# ---------------------------------------------------------------- steps


class StepContext:
    """Collects what one document step keeps and drops (with a reason) and writes both.

    Counts add up by construction: ``in_docs == out_docs + sum(dropped.values())``.
    """

    def __init__(self, out_f, dropped_f):
        self._out = out_f
        self._dropped_f = dropped_f
        self.out_docs = 0
        self.out_chars = 0
        self.dropped: Counter = Counter()
        self.dropped_chars: Counter = Counter()
        self.extra: dict = {}

    def keep(self, doc: Document) -> None:
        self._out.write(json_line(doc_to_json(doc)))
        self.out_docs += 1
        self.out_chars += len(doc.text)

    def drop(self, reason: str, doc: Document | None = None, count: int = 1, chars: int = 0) -> None:
        """Record ``count`` dropped documents; a dropped ``doc`` is also written to ``<step>.dropped.jsonl``."""
        self.dropped[reason] += count
        if doc is not None:
            chars = len(doc.text or "")
            row = doc_to_json(doc)
            row["metadata"] = {**doc.metadata, "dropped_reason": reason}
            self._dropped_f.write(json_line(row))
        self.dropped_chars[reason] += chars

    @property
    def in_docs(self) -> int:
        return self.out_docs + sum(self.dropped.values())


class Steps:
    """Runs the resumable steps of one pipeline inside ``work`` and keeps their stats for the manifest."""

    def __init__(self, work: str | os.PathLike, force: bool = False, show_progress: bool = True):
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.force = force
        self.show_progress = show_progress
        self.dirty = False  # a step ran in this invocation: every later step must run too

    def paths(self, name: str) -> tuple[Path, Path, Path]:
        return self.work / f"{name}.jsonl", self.work / f"{name}.stats.json", self.work / f"{name}.dropped.jsonl"

    def load_stats(self, name: str) -> dict | None:
        path = self.work / f"{name}.stats.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def _is_done(self, name: str, params: dict, outputs: Iterable[Path]) -> dict | None:
        if self.force or self.dirty:
            return None
        stats = self.load_stats(name)
        if stats is None or stats.get("params") != _jsonable(params):
            return None
        if not all(Path(p).exists() for p in outputs):
            return None
        return stats

    def run_docs(self, name: str, produce: Callable[[StepContext], None], params: dict | None = None,
                 input_docs: int | None = None) -> Path:
        """Run a document step: ``produce(ctx)`` calls ``ctx.keep``/``ctx.drop``; returns the output path.

        Skipped (its saved stats reused) when its output exists, was made with the same ``params`` and
        no earlier step ran in this invocation, unless ``force``.
        """
        params = params or {}
        out_path, stats_path, dropped_path = self.paths(name)
        if self._is_done(name, params, [out_path]) is not None:
            print(f"[collect] {name}: done before, skipped (use --force to redo)", file=sys.stderr)
            return out_path
        self.dirty = True
        start = time.monotonic()
        with AtomicWriter(out_path) as out_f, AtomicWriter(dropped_path) as dropped_f:
            ctx = StepContext(out_f, dropped_f)
            produce(ctx)
        extra = dict(ctx.extra)
        in_chars = {"in_chars": extra.pop("in_chars")} if "in_chars" in extra else {}
        stats = {
            "name": name,
            "kind": "documents",
            "in_docs": ctx.in_docs,
            **in_chars,
            "out_docs": ctx.out_docs,
            "out_chars": ctx.out_chars,
            "dropped": dict(sorted(ctx.dropped.items())),
            "dropped_chars": dict(sorted(ctx.dropped_chars.items())),
            **extra,
            "params": _jsonable(params),
            "seconds": round(time.monotonic() - start, 3),
        }
        if input_docs is not None and input_docs != stats["in_docs"]:
            raise RuntimeError(f"step {name}: read {stats['in_docs']} documents, expected {input_docs}")
        write_json(stats_path, stats)
        print(f"[collect] {name}: {ctx.in_docs} in, {ctx.out_docs} kept, dropped {dict(ctx.dropped)}",
              file=sys.stderr)
        return out_path

    def run_filters(self, name: str, src: Path, filters: list[BaseFilter] | Callable[[], list[BaseFilter]],
                    params: dict | None = None) -> Path:
        """A document step that applies datatrove filters in order; the first that says no names the reason.
        ``filters`` may be a function that builds them, so that nothing is built when the step is skipped."""
        src_stats = self.load_stats(src.stem)
        total = src_stats["out_docs"] if src_stats else None

        def produce(ctx: StepContext) -> None:
            nonlocal filters
            if callable(filters):
                filters = filters()
            in_chars = 0
            for doc in progress(read_docs(src), desc=name, total=total, enabled=self.show_progress):
                in_chars += len(doc.text)
                for flt in filters:
                    keep, reason = get_filter_result(flt.filter(doc))
                    if not keep:
                        ctx.drop(reason or getattr(flt, "reason", type(flt).__name__), doc)
                        break
                else:
                    ctx.keep(doc)
            ctx.extra["in_chars"] = in_chars

        return self.run_docs(name, produce, {"input": src.name, **(params or {})}, input_docs=total)

    def run_sample(self, name: str, src: Path, target_chars: int | None, seed: int) -> Path:
        """Random sample of whole documents, in a seeded order, until ``target_chars`` is reached
        (all documents when no target); the kept documents stay in their input order."""
        src_stats = self.load_stats(src.stem)
        total = src_stats["out_docs"] if src_stats else None

        def produce(ctx: StepContext) -> None:
            lengths = [len(d.text) for d in read_docs(src)]
            order = list(range(len(lengths)))
            random.Random(seed).shuffle(order)
            chosen, size = set(), 0
            for i in order:
                if target_chars is not None and size >= target_chars:
                    break
                chosen.add(i)
                size += lengths[i]
            for i, doc in enumerate(read_docs(src)):
                if i in chosen:
                    ctx.keep(doc)
                else:
                    ctx.drop("over_target", count=1, chars=len(doc.text))
            ctx.extra["in_chars"] = sum(lengths)
            ctx.extra["target_chars"] = target_chars
            if target_chars is not None and size < target_chars:
                ctx.extra["short_of_target_chars"] = target_chars - size
                print(f"[collect] warning: only {size} characters available, short of --target-chars "
                      f"{target_chars}", file=sys.stderr)

        return self.run_docs(name, produce, {"input": src.name, "target_chars": target_chars, "seed": seed},
                             input_docs=total)

    def run_fetch(self, name: str, fetch: Callable[[], dict], params: dict | None = None,
                  outputs: Iterable[Path] = (), always: bool = False) -> dict:
        """A network/file step (search, clone, list, download): ``fetch()`` returns its stats dict.

        ``always`` is for steps that resume item by item (clone, download): they run every time and only
        count as a change (making later steps run again) when their stats say ``changed``.
        """
        params = params or {}
        outputs = list(outputs)
        if not always:
            done = self._is_done(name, params, outputs)
            if done is not None:
                print(f"[collect] {name}: done before, skipped (use --force to redo)", file=sys.stderr)
                return done
        start = time.monotonic()
        stats = {"name": name, "kind": "fetch", **fetch(), "params": _jsonable(params),
                 "seconds": round(time.monotonic() - start, 3)}
        if stats.pop("changed", True):
            self.dirty = True
        write_json(self.work / f"{name}.stats.json", stats)
        print(f"[collect] {name}: {json.dumps({k: v for k, v in stats.items() if k != 'params'})}",
              file=sys.stderr)
        return stats


def fingerprint(names: Iterable[str]) -> str:
    """Short hash of a set of names (input files, repositories): when the set changes, the step that
    reads them runs again."""
    import hashlib

    return hashlib.sha1("\n".join(sorted(names)).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def write_output(area: str, src: Path, out_dir: str | os.PathLike) -> tuple[Path, int, int]:
    """Write the final ``<out>/<area>.jsonl`` in the evaluation schema; return (path, docs, chars)."""
    path = Path(out_dir) / f"{area}.jsonl"
    docs = chars = 0
    with AtomicWriter(path) as f:
        for doc in read_docs(src):
            f.write(json_line(to_eval_row(doc, area)))
            docs += 1
            chars += len(doc.text)
    return path, docs, chars


def write_manifest(area: str, out_dir, steps: Steps, step_names: Iterable[str], parameters: dict,
                   date_range: DateRange, final: dict, extra: dict | None = None) -> Path:
    """``<out>/<area>.manifest.json``: every step's counts, the parameters, the date range and versions."""
    entries = [s for s in (steps.load_stats(n) for n in step_names) if s is not None]
    manifest = {
        "area": area,
        "output": f"{area}.jsonl",
        "created": iso(dt.datetime.now(dt.timezone.utc)),
        "date_range": date_range.to_json(),
        "parameters": _jsonable(parameters),
        "steps": entries,
        "final": final,
        "libraries": library_versions(),
        **(extra or {}),
    }
    path = Path(out_dir) / f"{area}.manifest.json"
    write_json(path, manifest)
    return path


# ---------------------------------------------------------------- command line


def add_common_args(p: argparse.ArgumentParser, *, output: bool = True) -> None:
    """Options every pipeline takes."""
    p.add_argument("--out", default="fresh_corpora",
                   help="output folder, usable as the tasks' data_dir (default: %(default)s)")
    p.add_argument("--work", default=None, help="work folder for resumable steps (default: <out>/work/<area>)")
    p.add_argument("--after", default=None,
                   help="keep only material created on/after this date (YYYY-MM-DD or ISO date-time)")
    p.add_argument("--before", default=None, help="keep only material created before this date")
    p.add_argument("--force", action="store_true", help="redo steps whose output already exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    if output:
        p.add_argument("--target-chars", type=int, default=None,
                       help="sample documents until this many characters (default: keep all)")
        p.add_argument("--seed", type=int, default=1234, help="seed of the sampling order (default: %(default)s)")
        p.add_argument("--decontaminate", action="append", default=[], metavar="REF.jsonl",
                       help="drop documents sharing a word n-gram with this reference corpus (repeatable)")
        p.add_argument("--ngram", type=int, default=13, help="n of the contamination n-grams (default: 13)")
        p.add_argument("--near-dup-threshold", type=float, default=0.85,
                       help="MinHash LSH Jaccard threshold of near-duplicate removal (default: %(default)s)")
        p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default: %(default)s)")


def date_range_of(args) -> DateRange:
    """``--after``/``--before`` as a DateRange; a bad range is a usage error."""
    try:
        return DateRange(args.after, args.before)
    except ValueError as e:
        raise SystemExit(f"bad date range: {e}") from None


def file_digest(path) -> str | None:
    """Short content hash of a small input file (a repo list), so that a changed file re-runs its step."""
    import hashlib

    path = Path(path) if path else None
    return hashlib.sha1(path.read_bytes()).hexdigest()[:16] if path and path.is_file() else None


def work_dir(args, area: str) -> Path:
    return Path(args.work) if args.work else Path(args.out) / "work" / area


def public_params(args) -> dict:
    return {k: v for k, v in vars(args).items() if not callable(v) and k not in ("func",)}


def finish(area: str, args, steps: Steps, src: Path, stages: list[tuple[str, Callable[[], list], dict]],
           date_range: DateRange, fetch_steps: Iterable[str] = (), extra_manifest: dict | None = None) -> dict:
    """Shared tail of every pipeline: the pipeline's filter ``stages`` (name, filter factory, params),
    then ``--decontaminate``, then sampling to ``--target-chars``; writes ``<area>.jsonl`` and its
    manifest into ``--out`` and returns the manifest's ``final`` entry."""
    names = [*fetch_steps, src.stem]
    for name, factory, params in stages:
        src = steps.run_filters(name, src, factory, params)
        names.append(name)
    if args.decontaminate:
        from .contamination import ContaminationFilter, NgramIndex

        refs = [str(Path(r)) for r in args.decontaminate]
        src = steps.run_filters(
            "decontaminate", src, lambda: [ContaminationFilter(NgramIndex.from_jsonl(refs, args.ngram))],
            {"references": refs, "ngram": args.ngram})
        names.append("decontaminate")
    src = steps.run_sample("sample", src, args.target_chars, args.seed)
    names.append("sample")
    path, docs, chars = write_output(area, src, args.out)
    final = {"path": str(path), "docs": docs, "chars": chars, "target_chars": args.target_chars}
    extra = dict(extra_manifest or {})
    if args.decontaminate:
        st = steps.load_stats("decontaminate")
        n_in, n_hit = st["in_docs"], st["dropped"].get("contaminated", 0)
        extra["contamination"] = {**st["params"], "docs": n_in, "contaminated_docs": n_hit,
                                  "share": (n_hit / n_in) if n_in else 0.0}
    manifest = write_manifest(area, args.out, steps, names, public_params(args), date_range, final, extra)
    print(f"[collect] wrote {path} ({docs} documents, {chars} characters) and {manifest}", file=sys.stderr)
    return final
