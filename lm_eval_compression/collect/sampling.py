"""The last document step: a seeded random sample of whole documents up to a size, written in the
evaluation schema ``{"content", "subset", "meta"}`` as ``<out>/<area>.jsonl``."""

from __future__ import annotations

import random
import sys

from datatrove.data import Document
from datatrove.pipeline.writers import JsonlWriter

from .steps import ORDER_KEY, StepSource


def to_eval_row(doc: Document, area: str) -> dict:
    """A document in the evaluation schema read by the compression tasks."""
    meta = {k: v for k, v in doc.metadata.items() if k != ORDER_KEY}
    return {"content": doc.text, "subset": area, "meta": {"id": doc.id, **meta}}


class SampleStep(StepSource):
    """Puts all documents in source order, shuffles their positions with ``seed`` and takes documents until
    ``target_chars`` is reached (all when None); yields the chosen ones in source order.  The order and the
    choice do not depend on how many tasks produced the input.  Holds the corpus in memory: run it on the
    filtered corpus, never on raw crawl data."""

    def __init__(self, target_chars: int | None, seed: int, name: str = "sample"):
        super().__init__(name)
        self.target_chars = target_chars
        self.seed = seed

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if world_size != 1:
            raise ValueError("sampling runs as a single task")
        docs = sorted(data or (), key=lambda d: (d.metadata[ORDER_KEY], d.id))
        order = list(range(len(docs)))
        random.Random(self.seed).shuffle(order)
        chosen, size = set(), 0
        for i in order:
            if self.target_chars is not None and size >= self.target_chars:
                break
            chosen.add(i)
            size += len(docs[i].text)
        if self.target_chars is not None and size < self.target_chars:
            self.stat_update("short_of_target_chars", value=self.target_chars - size)
            print(
                f"[collect] warning: only {size} characters available, short of --target-chars {self.target_chars}",
                file=sys.stderr,
            )
        for i, doc in enumerate(docs):
            self.stat_update("in_chars", value=len(doc.text))
            if i in chosen:
                yield self.keep(doc)
            else:
                self.drop("over_target", doc)


class EvalWriter(JsonlWriter):
    """``<out>/<area>.jsonl`` in the evaluation schema (the sample step runs as one task, so one file)."""

    def __init__(self, out_dir: str, area: str):
        self.area = area
        super().__init__(str(out_dir), output_filename=f"{area}.jsonl", compression=None)

    def _default_adapter(self, document: Document) -> dict:
        return to_eval_row(document, self.area)
