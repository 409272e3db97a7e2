"""The compression request: the stock ``loglikelihood_rolling`` arguments with the window settings appended.

A compression task appends a settings dict marked with :data:`REQUEST_KEY` to the stock arguments of the
installed harness release (the layouts are in :mod:`.compat`); the scorer reads it as ``(text, settings)``.
Because the settings are part of the request arguments, ``--use_cache`` keys include them.
"""

from __future__ import annotations

import hashlib
import json
from typing import NamedTuple

from . import compat

REQUEST_KEY = "lm_eval_compression"
REQUEST_VERSION = 1


def request_settings(block_size: int, stride: int, protocol: str, window_bos) -> dict:
    """The settings a compression request carries (part of the harness's cache key)."""
    return {
        REQUEST_KEY: REQUEST_VERSION,
        "block_size": block_size,
        "stride": stride,
        "protocol": protocol,
        "window_bos": window_bos,
    }


def is_compression_request(args) -> bool:
    settings = compat.rolling_settings(args)
    return settings is not None and settings.get(REQUEST_KEY) == REQUEST_VERSION


class CompressionRequest(NamedTuple):
    """A compression request as the scorer reads it, whatever the harness release's argument layout."""

    args: tuple  # (text, settings)
    task_name: str | None
    cache_args: tuple  # the arguments as the harness sent them: what its --use_cache key hashes
    doc_id: int | None = None  # the document's index in its task, for messages

    @classmethod
    def of(cls, instance) -> CompressionRequest:
        args = instance.args
        return cls(
            (compat.rolling_text(args), compat.rolling_settings(args)),
            getattr(instance, "task_name", None),
            args,
            getattr(instance, "doc_id", None),
        )


def corpus_sha256(texts) -> str:
    """Identity of an ordered list of documents."""
    digest = hashlib.sha256()
    for t in texts:
        digest.update(hashlib.sha256(t.encode("utf-8")).digest())
    return digest.hexdigest()


def stream_fingerprint(corpus_hash: str, settings: dict) -> str:
    """Identity of a ``paper`` stream: the hash of its documents in order plus the window settings."""
    return hashlib.sha256((json.dumps(settings, sort_keys=True) + corpus_hash).encode()).hexdigest()
