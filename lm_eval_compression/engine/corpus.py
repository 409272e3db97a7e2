"""What a corpus is to every part of the plugin: its identity, and the error for one that cannot be used.

The task records :func:`corpus_sha256` in the results file (the report refuses to compare runs over other
documents), the paper protocol's checkpoints are keyed by it, and compressed files carry its first bytes.
"""

from __future__ import annotations

import hashlib


class CorpusError(ValueError):
    """The corpus cannot be evaluated or compressed; the message names the file or document."""


def corpus_sha256(texts) -> str:
    """Identity of an ordered list of documents: SHA-256 over the SHA-256 of each document's UTF-8 text."""
    digest = hashlib.sha256()
    for t in texts:
        digest.update(hashlib.sha256(t.encode("utf-8")).digest())
    return digest.hexdigest()
