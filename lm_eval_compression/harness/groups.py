"""BPC by subdomain: bpc and bpb per value of a document field (``metadata.group_by``), with macro and
micro averages.

The field is a dotted path into each document (``subset``, ``meta.language``, ``category``); it is checked on
every document when the corpus is loaded, before any window is scored.  Each group's bpc is a ratio of its
documents' sums with the delta-method standard error of :mod:`.metrics`; the macro average is the unweighted
mean over groups (standard error ``sqrt(sum se^2) / G``), the micro average the ratio over all documents.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

from ..engine.corpus import CorpusError
from .metrics import bits_per_unit, bits_per_unit_stderr

MISSING = object()


def resolve(doc, path: str):
    """The value at dotted ``path`` in ``doc`` (nested mappings), or :data:`MISSING`."""
    value = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def fields_at(doc, path: str) -> tuple[str, list[str], object]:
    """The deepest existing prefix of ``path`` in ``doc``, the fields found there and the value (for the
    message)."""
    value, prefix = doc, []
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            break
        value, prefix = value[part], prefix + [part]
    names = sorted(value) if isinstance(value, dict) else []
    return ".".join(prefix), [".".join(prefix + [n]) for n in names], value


def label(value) -> str:
    """A group's name in the results: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def check_group_field(docs, path: str, task: str, corpus: str) -> None:
    """Refuse ``group_by`` when some document lacks the field, naming the fields that exist there."""
    for i, doc in enumerate(docs):
        if resolve(doc, path) is MISSING:
            prefix, names, value = fields_at(doc, path)
            where = f" under {prefix!r}" if prefix else ""
            found = (
                f"the fields{where} are {names}"
                if isinstance(value, dict)
                else (f"{prefix!r} holds {type(value).__name__}, not fields; the fields are {sorted(doc)}")
            )
            raise CorpusError(
                f"task {task}: group_by {path!r}: document {i} of {corpus} has no such field; "
                f"{found} (nested fields are written with dots, e.g. meta.language)"
            )


def ratio(items: list[tuple[float, int]]) -> tuple[float, float | None]:
    """Bits per unit and its standard error (``None`` for a single document)."""
    se = bits_per_unit_stderr(items)
    return bits_per_unit(items), None if math.isnan(se) else se


def macro_stderr(errors: list[float | None]) -> float | None:
    """``sqrt(sum se^2) / G``, or ``None`` when a group has no standard error."""
    if any(e is None for e in errors):
        return None
    return math.sqrt(math.fsum(e**2 for e in errors)) / len(errors)


class GroupTable:
    """Per group value: each document's (log-likelihood, characters, bytes, tokens)."""

    def __init__(self, path: str):
        self.path = path
        self.rows: dict[str, list[tuple[float, int, int, int]]] = defaultdict(list)

    def add(self, doc, response: dict) -> None:
        value = label(resolve(doc, self.path))
        self.rows[value].append((response["loglikelihood"], response["chars"], response["bytes"], response["tokens"]))

    def summary(self) -> dict:
        """The ``by_group`` entry of the results: every group, the macro and the micro average."""
        groups = {}
        for value in sorted(self.rows):
            rows = self.rows[value]
            bpc, bpc_se = ratio([(ll, c) for ll, c, _, _ in rows])
            bpb, bpb_se = ratio([(ll, b) for ll, _, b, _ in rows])
            groups[value] = {
                "documents": len(rows),
                "chars": sum(r[1] for r in rows),
                "bytes": sum(r[2] for r in rows),
                "tokens": sum(r[3] for r in rows),
                "nats": -math.fsum(r[0] for r in rows),
                "bpc": bpc,
                "bpc_stderr": bpc_se,
                "bpb": bpb,
                "bpb_stderr": bpb_se,
            }
        every = [r for rows in self.rows.values() for r in rows]
        micro_bpc, micro_bpc_se = ratio([(ll, c) for ll, c, _, _ in every])
        micro_bpb, micro_bpb_se = ratio([(ll, b) for ll, _, b, _ in every])
        n = len(groups)
        return {
            "field": self.path,
            "groups": groups,
            "macro": {
                "bpc": math.fsum(g["bpc"] for g in groups.values()) / n,
                "bpc_stderr": macro_stderr([g["bpc_stderr"] for g in groups.values()]),
                "bpb": math.fsum(g["bpb"] for g in groups.values()) / n,
                "bpb_stderr": macro_stderr([g["bpb_stderr"] for g in groups.values()]),
            },
            "micro": {"bpc": micro_bpc, "bpc_stderr": micro_bpc_se, "bpb": micro_bpb, "bpb_stderr": micro_bpb_se},
        }
