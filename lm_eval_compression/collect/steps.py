"""The document steps of a pipeline as datatrove blocks that account for every document.

A *step* is one datatrove block that the manifest reports on: it counts documents in and out, characters
in and out, and every drop under a reason (``dropped_<reason>``, ``dropped_chars_<reason>`` in datatrove's
stats), and writes the dropped documents (``metadata["filter_reason"]``) through an exclusion writer.
Readers that turn source files into documents (:class:`StepSource`) and filters (:class:`StepFilter`) share
this bookkeeping, so ``in == out + sum(dropped)`` holds in every step by construction.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.typeshelper import StatHints

STEP_TYPE = "collect step"
ORDER_KEY = "_order"  # [source number, item number]: a global order that does not depend on the task count


def doc_writer(folder: str | Path) -> JsonlWriter:
    """Documents of a work folder in datatrove's layout, one file per task."""
    return JsonlWriter(str(folder), output_filename="${rank}.jsonl", compression=None)


def dropped_writer(stage_dir: str | Path, step: str) -> JsonlWriter:
    return doc_writer(Path(stage_dir) / "dropped" / step)


class StepSource(PipelineStep):
    """A reader block that is also a step: ``keep``/``drop`` do the counting; ``produce(rank, world_size)``
    yields the kept documents and calls ``drop`` for the others."""

    type = STEP_TYPE

    def __init__(self, name: str, exclusion_writer: JsonlWriter | None = None):
        self.name = name
        super().__init__()
        self.exclusion_writer = exclusion_writer
        self._writer = None
        self._rank = 0

    def keep(self, doc: Document) -> Document:
        self.stat_update(StatHints.total, StatHints.forwarded)
        self.update_doc_stats(doc)
        return doc

    def drop(self, reason: str, doc: Document | None = None, count: int = 1) -> None:
        """Record ``count`` dropped documents; a given ``doc`` is written with its reason."""
        self.stat_update(StatHints.total, StatHints.dropped, f"dropped_{reason}", value=count)
        if doc is not None:
            self.stat_update(f"dropped_chars_{reason}", value=len(doc.text or ""))
            if self._writer is not None:
                doc.metadata["filter_reason"] = reason
                self._writer.write(doc, self._rank)

    def produce(self, rank: int, world_size: int):
        raise NotImplementedError

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            raise ValueError(f"{self.name} reads sources and takes no input documents")
        self._rank = rank
        with self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext() as writer:
            self._writer = writer
            for doc in self.produce(rank, world_size):
                yield self.keep(doc)
            self._writer = None


class StepFilter(BaseFilter):
    """A datatrove filter that is a step: subclasses implement ``check(doc)`` (True, or (False, reason));
    characters in and dropped characters per reason are counted on top of datatrove's own stats."""

    type = STEP_TYPE

    def __init__(self, name: str, exclusion_writer: JsonlWriter | None = None):
        self.name = name
        super().__init__(exclusion_writer)

    def check(self, doc: Document):
        raise NotImplementedError

    def filter(self, doc: Document):
        chars = len(doc.text)
        self.stat_update("in_chars", value=chars)
        keep, reason = get_filter_result(self.check(doc))
        if keep:
            return True
        reason = reason or "filtered"
        self.stat_update(f"dropped_chars_{reason}", value=chars)
        return False, reason


class FilterChain(StepFilter):
    """Several datatrove filters as one step: the first one that says no names the reason (its
    ``name`` when it gives none)."""

    def __init__(self, name: str, filters: list[BaseFilter], exclusion_writer: JsonlWriter | None = None):
        super().__init__(name, exclusion_writer)
        self.filters = filters

    def check(self, doc: Document):
        for flt in self.filters:
            keep, reason = get_filter_result(flt.filter(doc))
            if not keep:
                return False, reason or type(flt).__name__
        return True
