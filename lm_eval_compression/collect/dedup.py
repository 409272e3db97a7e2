"""Exact and near-duplicate removal as multi-stage datatrove pipelines that work across tasks and machines.

Both keep, of every group of duplicates, the document that comes first in the sources' order
(``metadata["_order"]``, set by the readers), so the result does not depend on how many tasks ran.

Exact: each task writes ``[content hash, order, id]`` per document (:class:`ExactDedupSignature`); one task
finds the groups (:class:`ExactDedupFind`); :class:`ExactDedupFilter` drops the later copies
(reason ``exact_duplicate``, ``metadata["duplicate_of"]``).

Near: datatrove's MinHash stages.  :class:`NearDupSignature` is datatrove's signature stage on this
project's shingles (lower-cased word 5-grams for prose, identifier/punctuation 5-grams for code), with
the LSH banding that datasketch chooses for the Jaccard threshold (0.85 in the paper) and the number of
permutations; datatrove's ``MinhashDedupBuckets`` finds the pairs that share a band;
:class:`NearDupCluster` keeps the pairs whose whole signatures agree on at least the threshold share of
values and joins them into clusters; :class:`NearDupFilter` drops all but the first of each cluster
(reason ``near_duplicate``, ``metadata["near_duplicate_of"]``).
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
from datatrove.data import Document
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.binaryio import read_tuples_from_file
from datatrove.utils.hashing import create_hash_func

from .steps import ORDER_KEY, StepFilter

_WS = re.compile(r"\s+")
_WORDS = re.compile(r"\w+")
_CODE_TOKENS = re.compile(r"\w+|[^\w\s]")
DROPS = "drops.json"


def _order(doc: Document) -> list:
    order = doc.metadata.get(ORDER_KEY)
    if order is None:
        raise ValueError(f"document {doc.id!r} has no {ORDER_KEY} (set by the pipeline's reader)")
    return order


def _load_drops(folder) -> dict:
    folder = get_datafolder(folder)
    with folder.open(DROPS, "r") as f:
        return json.load(f)


def _write_drops(folder, drops: dict) -> None:
    with get_datafolder(folder).open(DROPS, "w") as f:
        json.dump(drops, f)


# ---------------------------------------------------------------- exact


def content_hash(text: str, normalize_whitespace: bool = False) -> str:
    if normalize_whitespace:
        text = _WS.sub(" ", text).strip()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class ExactDedupSignature(PipelineStep):
    """Stage 1 of exact dedup: passes documents on and writes ``[hash, order, id]`` for each."""

    type = "🫂 - DEDUP"
    name = "exact dedup signatures"

    def __init__(self, output_folder: str, normalize_whitespace: bool = False):
        super().__init__()
        self.output_folder = get_datafolder(output_folder)
        self.normalize_whitespace = normalize_whitespace

    def run(self, data, rank: int = 0, world_size: int = 1):
        with self.output_folder.open(f"{rank:05d}.jsonl", "w") as f:
            for doc in data:
                self.stat_update("total")
                f.write(json.dumps([content_hash(doc.text, self.normalize_whitespace), _order(doc), doc.id]) + "\n")
                yield doc


class ExactDedupFind(PipelineStep):
    """Stage 2 of exact dedup (one task): ``drops.json`` maps every later copy's id to the first copy's."""

    type = "🫂 - DEDUP"
    name = "exact dedup find"

    def __init__(self, input_folder: str, output_folder: str):
        super().__init__()
        self.input_folder = get_datafolder(input_folder)
        self.output_folder = output_folder

    def _rows(self):
        for name in sorted(self.input_folder.list_files(glob_pattern="*.jsonl")):
            with self.input_folder.open(name, "r") as f:
                for line in f:
                    yield json.loads(line)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if world_size != 1:
            raise ValueError("exact dedup find runs as a single task")
        first: dict[str, tuple] = {}
        seen_ids: set[str] = set()
        for h, order, doc_id in self._rows():
            if doc_id in seen_ids:
                raise ValueError(f"two documents have the id {doc_id!r}; ids must be unique")
            seen_ids.add(doc_id)
            if h not in first or (order, doc_id) < first[h]:
                first[h] = (order, doc_id)
        drops = {doc_id: first[h][1] for h, order, doc_id in self._rows() if first[h][1] != doc_id}
        self.stat_update("duplicates", value=len(drops))
        _write_drops(self.output_folder, drops)
        return iter(())


class DropsFilter(StepFilter):
    """Last stage of a dedup: drops the documents a find stage listed, recording which one each copies."""

    metadata_key = "duplicate_of"
    reason = "duplicate"

    def __init__(self, folder: str, name: str, exclusion_writer: JsonlWriter | None = None):
        super().__init__(name, exclusion_writer)
        self.folder = folder
        self._drops = None

    def check(self, doc: Document):
        if self._drops is None:
            self._drops = _load_drops(self.folder)
        if doc.id in self._drops:
            doc.metadata[self.metadata_key] = self._drops[doc.id]
            return False, self.reason
        return True


class ExactDedupFilter(DropsFilter):
    """Stage 3 of exact dedup: drops the copies found in stage 2."""

    metadata_key, reason = "duplicate_of", "exact_duplicate"

    def __init__(self, folder: str, name: str = "exact_dedup", exclusion_writer: JsonlWriter | None = None):
        super().__init__(folder, name, exclusion_writer)


# ---------------------------------------------------------------- near


def shingles(text: str, n: int = 5, mode: str = "words") -> set[str]:
    """Token ``n``-grams: lower-cased words for prose, identifier/punctuation tokens for code."""
    tokens = _CODE_TOKENS.findall(text) if mode == "code" else _WORDS.findall(text.lower())
    if len(tokens) < n:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def jaccard(a: str, b: str, n: int = 5, mode: str = "words") -> float:
    """Exact Jaccard similarity of two texts' shingle sets (for checks and tests)."""
    sa, sb = shingles(a, n, mode), shingles(b, n, mode)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def minhash_config(threshold: float = 0.85, num_perm: int = 128, ngram: int = 5, seed: int = 1) -> MinhashConfig:
    """datatrove's MinHash settings with the bands datasketch's ``MinHashLSH`` picks for ``threshold``
    (equal weights on false positives and negatives): 128 permutations at 0.85 give 8 bands of 16."""
    from datasketch.lsh import _optimal_param

    if not 0 < threshold <= 1:
        raise ValueError(f"--near-dup-threshold must be in (0, 1], not {threshold}")
    bands, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return MinhashConfig(n_grams=ngram, num_buckets=int(bands), hashes_per_bucket=int(rows), seed=seed)


class NearDupSignature(MinhashDedupSignature):
    """datatrove's MinHash stage 1 on this project's shingles; also writes ``ids/<rank>.jsonl``
    (``[index, id, order]``) so that later stages can name documents."""

    def __init__(self, output_folder: str, config: MinhashConfig, mode: str = "words"):
        PipelineStep.__init__(self)  # datatrove's __init__ also loads a word tokenizer these shingles do not use
        self.output_folder = get_datafolder(output_folder)
        self.config = config
        self.num_hashes = config.num_buckets * config.hashes_per_bucket
        self._parameters = None
        self._hash_func = create_hash_func(config.hash_config)
        self.skip_existing_sigs = False
        self.mode = mode

    def get_shingles(self, text: str) -> np.ndarray:
        grams = sorted(shingles(text, self.config.n_grams, self.mode))
        hashes = (self._hash_func(g.encode("utf-8", "surrogatepass")) for g in grams)
        return np.fromiter(hashes, dtype=np.uint64, count=len(grams)).reshape((-1, 1))

    def run(self, data, rank: int = 0, world_size: int = 1):
        def named():
            with self.output_folder.open(f"ids/{rank:05d}.jsonl", "w") as f:
                for i, doc in enumerate(data):
                    f.write(json.dumps([i, doc.id, _order(doc)]) + "\n")
                    yield doc

        return super().run(named(), rank, world_size)


class NearDupCluster(PipelineStep):
    """MinHash stage 3 (one task).  The pairs that datatrove's bucket stage found (sharing one band) are
    checked against the whole signature: a pair stays when the share of equal MinHash values (the estimated
    Jaccard similarity) reaches ``threshold``, as datasketch's LSH queries did.  Checked pairs are joined into
    clusters; of each, the first document in source order stays and ``drops.json`` maps the others to it."""

    type = "🫂 - DEDUP"
    name = "near dedup clusters"

    def __init__(
        self, dups_folder: str, signatures_folder: str, output_folder: str, config: MinhashConfig, threshold: float
    ):
        super().__init__()
        self.dups_folder = get_datafolder(dups_folder)
        self.signatures_folder = get_datafolder(signatures_folder)
        self.output_folder = output_folder
        self.config = config
        self.threshold = threshold

    def pairs(self) -> set[tuple[tuple[int, int], tuple[int, int]]]:
        found = set()
        for name in sorted(self.dups_folder.list_files(glob_pattern="*.dups")):
            with self.dups_folder.open(name, "rb") as f:
                for f1, d1, f2, d2 in read_tuples_from_file(f, "4I", lines_to_buffer=1000):
                    found.add(tuple(sorted([(f1, d1), (f2, d2)])))
        return found

    def signatures(self, nodes: set[tuple[int, int]]) -> dict[tuple[int, int], np.ndarray]:
        """The whole signature (all bands) of each document in ``nodes``, from stage 1's bucket files."""
        cfg = self.config
        dtype = np.dtype([("h", f"<{cfg.hash_config.struct_format}", (cfg.hashes_per_bucket,)), ("doc", "<u4")])
        parts: dict[tuple[int, int], list] = {node: [None] * cfg.num_buckets for node in nodes}
        for file_id in sorted({f for f, _ in nodes}):
            wanted = {d for f, d in nodes if f == file_id}
            for b in range(cfg.num_buckets):
                with self.signatures_folder.open(f"bucket_{b:03d}/{file_id:05d}.minhash.sig", "rb") as f:
                    records = np.frombuffer(f.read(), dtype=dtype)
                for rec in records[np.isin(records["doc"], list(wanted))]:
                    parts[(file_id, int(rec["doc"]))][b] = rec["h"]
        return {node: np.concatenate(p) for node, p in parts.items()}

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if world_size != 1:
            raise ValueError("near dedup clustering runs as a single task")
        candidates = self.pairs()
        sigs = self.signatures({node for pair in candidates for node in pair})
        parent: dict[tuple[int, int], tuple[int, int]] = {}

        def find(x):
            root = x
            while parent.setdefault(root, root) != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        for a, b in sorted(candidates):
            self.stat_update("candidate_pairs")
            if float(np.mean(sigs[a] == sigs[b])) < self.threshold:
                continue
            self.stat_update("similar_pairs")
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        names = {}
        for file_id in sorted({f for f, _ in parent}):
            with self.signatures_folder.open(f"ids/{file_id:05d}.jsonl", "r") as f:
                for line in f:
                    i, doc_id, order = json.loads(line)
                    if (file_id, i) in parent:
                        names[(file_id, i)] = (order, doc_id)
        clusters: dict[tuple, list] = {}
        for node in parent:
            clusters.setdefault(find(node), []).append(names[node])
        drops = {}
        for members in clusters.values():
            keep = min(members)
            drops.update({doc_id: keep[1] for order, doc_id in members if doc_id != keep[1]})
            self.stat_update("clusters")
        self.stat_update("duplicates", value=len(drops))
        _write_drops(self.output_folder, drops)
        return iter(())


class NearDupFilter(DropsFilter):
    """MinHash stage 4: drops every member of a cluster but its first."""

    metadata_key, reason = "near_duplicate_of", "near_duplicate"

    def __init__(self, folder: str, name: str = "near_dedup", exclusion_writer: JsonlWriter | None = None):
        super().__init__(folder, name, exclusion_writer)
