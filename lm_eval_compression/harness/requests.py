"""The compression request: the stock ``loglikelihood_rolling`` arguments with the request settings appended.

A compression task appends a settings dict marked with :data:`REQUEST_KEY` to the stock arguments of the
installed harness release (the layouts are in :mod:`.compat`); the scorer reads it back as a
:class:`RequestSettings`.  Because the settings, including the identity of the model that scores them
(:mod:`.identity`), are part of the request arguments, ``--use_cache`` keys include them: a cache shared by two
models, dtypes or autocast settings never serves one the other's result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import NamedTuple

from ..engine.planning import CompressionRequestError
from ..engine.settings import WindowSettings
from . import compat

REQUEST_KEY = "lm_eval_compression"
REQUEST_VERSION = 1


@dataclass(frozen=True)
class RequestSettings:
    """What every request of one compression task carries besides its text."""

    windows: WindowSettings
    windows_in_flight: int | None = None  # --model vllm: windows per call to the engine
    stream: str | None = None  # paper protocol: fingerprint of the task's token stream
    count: int | None = None  # paper protocol: documents in the stream
    model: str | None = None  # identity of the model that scores the requests (harness.identity)
    min_k: float | None = None  # Min-K% fraction of the membership signals (None: none)
    records: str | None = None  # the task's per-token records file (None: no records)

    def to_args(self, position: int | None = None) -> dict:
        """The dict appended to a request's arguments (``position``: the document's place in the stream)."""
        args = {REQUEST_KEY: REQUEST_VERSION, **self.windows.as_set()}
        if self.windows_in_flight is not None:
            args["windows_in_flight"] = self.windows_in_flight
        if self.stream is not None:
            args.update(stream=self.stream, count=self.count, position=position)
        if self.model is not None:
            args["model"] = self.model
        if self.min_k is not None:
            args["min_k"] = self.min_k
        if self.records is not None:
            args["records"] = self.records
        return args

    @classmethod
    def from_args(cls, args: dict) -> tuple[RequestSettings, int | None]:
        """The settings and the stream position of a request's appended dict."""
        windows = WindowSettings.parse(args, where="compression request")
        settings = cls(
            windows,
            args.get("windows_in_flight"),
            args.get("stream"),
            args.get("count"),
            args.get("model"),
            args.get("min_k"),
            args.get("records"),
        )
        return settings, args.get("position")


def stream_fingerprint(corpus_hash: str, windows: WindowSettings) -> str:
    """Identity of a ``paper`` stream: the hash of its documents in order plus the window settings."""
    settings = {REQUEST_KEY: REQUEST_VERSION, **windows.as_set()}
    return hashlib.sha256((json.dumps(settings, sort_keys=True) + corpus_hash).encode()).hexdigest()


def is_compression_request(args) -> bool:
    settings = compat.rolling_settings(args)
    return settings is not None and settings.get(REQUEST_KEY) == REQUEST_VERSION


class CompressionRequest(NamedTuple):
    """A compression request as the scorer reads it, whatever the harness release's argument layout."""

    text: str
    settings: RequestSettings
    position: int | None  # paper protocol: the document's index in its stream
    task_name: str | None
    cache_args: tuple  # the arguments as the harness sent them: what its --use_cache key hashes
    doc_id: int | None = None  # the document's index in its task, for messages

    @classmethod
    def of(cls, instance) -> CompressionRequest:
        args = instance.args
        settings, position = RequestSettings.from_args(compat.rolling_settings(args))
        return cls(
            compat.rolling_text(args),
            settings,
            position,
            getattr(instance, "task_name", None),
            args,
            getattr(instance, "doc_id", None),
        )


def shared_settings(requests: list[CompressionRequest], task) -> RequestSettings:
    """The settings all of a task's requests carry; refused if they differ."""
    first = requests[0].settings
    if any(r.settings != first for r in requests[1:]):
        raise CompressionRequestError(f"task {task}: its requests carry different window settings")
    return first
