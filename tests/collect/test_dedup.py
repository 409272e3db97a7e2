"""Near-duplicate removal: datatrove's multi-stage MinHash (as run by the pipelines) against a
single-process datasketch LSH index, and the whole-signature check of the pairs that share a band."""

from __future__ import annotations

import json
import random

import numpy as np
from datasketch import MinHash, MinHashLSH
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets

from lm_eval_compression.collect.dedup import (
    NearDupCluster,
    NearDupSignature,
    jaccard,
    minhash_config,
    shingles,
)
from tests.collect.fixtures import WORDS


def near_dedup_stages(docs: list[Document], tmp, threshold: float = 0.85) -> dict:
    """Signatures, buckets and clusters, each stage as the pipeline runs it (one task for the signatures)."""
    config = minhash_config(threshold, 128)
    NearDupSignature(str(tmp / "sigs"), config, "words").run(iter(docs), 0, 1)
    for bucket in range(config.num_buckets):
        MinhashDedupBuckets(str(tmp / "sigs"), str(tmp / "dups"), config=config).run(None, bucket, config.num_buckets)
    NearDupCluster(str(tmp / "dups"), str(tmp / "sigs"), str(tmp / "clusters"), config, threshold).run()
    return json.loads((tmp / "clusters" / "drops.json").read_text())


def datasketch_reference(docs: list[Document], threshold: float = 0.85) -> dict:
    """An in-memory reference: each document against the kept ones, LSH candidates checked by their
    estimated Jaccard similarity."""
    lsh, kept, drops = MinHashLSH(threshold=threshold, num_perm=128), {}, {}
    for doc in docs:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([g.encode() for g in shingles(doc.text)])
        best = max(((m.jaccard(kept[k]), k) for k in lsh.query(m)), default=(0.0, None))
        if best[1] is not None and best[0] >= threshold:
            drops[doc.id] = best[1]
        else:
            lsh.insert(doc.id, m)
            kept[doc.id] = m
    return drops


def variant(words: list[str], changed: int, rng: random.Random) -> list[str]:
    out = list(words)
    for i in rng.sample(range(len(out)), changed):
        out[i] = rng.choice(WORDS) + "x"
    return out


def test_multistage_minhash_equals_datasketch_index(tmp_path):
    rng = random.Random(0)
    texts = []
    for _ in range(12):
        base = [rng.choice(WORDS) for _ in range(400)]
        texts.append(base)
        texts.append(variant(base, 2, rng))  # Jaccard about 0.95: a near-duplicate
        texts.append(variant(base, 40, rng))  # about 0.4: a different document
    rng.shuffle(texts)
    docs = [Document(text=" ".join(t), id=f"d{i:03d}", metadata={"_order": [i, 0]}) for i, t in enumerate(texts)]
    new, old = near_dedup_stages(docs, tmp_path), datasketch_reference(docs)
    assert len(new) == 12 and new == old
    by_id = {d.id: d.text for d in docs}
    assert all(jaccard(by_id[a], by_id[b]) > 0.9 for a, b in new.items())


def test_pairs_sharing_one_band_are_checked_on_the_whole_signature(tmp_path):
    """Documents 0 and 1 share band 0 only (estimated Jaccard 1/8): kept; 2 and 3 share every band: 3 goes."""
    config = minhash_config(0.85, 128)
    rows, bands = config.hashes_per_bucket, config.num_buckets
    dtype = np.dtype([("h", "<u8", (rows,)), ("doc", "<u4")])
    sig = {d: np.arange(bands * rows, dtype=np.uint64).reshape(bands, rows) + 1000 * d for d in range(4)}
    sig[1][0] = sig[0][0]
    sig[3] = sig[2].copy()
    for b in range(bands):
        path = tmp_path / "sigs" / f"bucket_{b:03d}" / "00000.minhash.sig"
        path.parent.mkdir(parents=True)
        records = np.array([(sig[d][b], d) for d in range(4)], dtype=dtype)
        path.write_bytes(np.sort(records, order=["h", "doc"]).tobytes())
    (tmp_path / "sigs" / "ids").mkdir()
    (tmp_path / "sigs" / "ids" / "00000.jsonl").write_text(
        "".join(json.dumps([d, f"doc{d}", [d, 0]]) + "\n" for d in range(4))
    )
    (tmp_path / "dups").mkdir()
    (tmp_path / "dups" / "00000_00.dups").write_bytes(np.array([[0, 0, 0, 1], [0, 2, 0, 3]], dtype="<u4").tobytes())
    NearDupCluster(str(tmp_path / "dups"), str(tmp_path / "sigs"), str(tmp_path / "out"), config, 0.85).run()
    assert json.loads((tmp_path / "out" / "drops.json").read_text()) == {"doc3": "doc2"}
