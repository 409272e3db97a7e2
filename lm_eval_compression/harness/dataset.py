"""The checks a task's documents pass before any request is built: split, text field, categories, types."""

from __future__ import annotations

from ..engine.corpus import CorpusError


def article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def select_categories(docs, categories: tuple[str, ...], task: str, corpus: str):
    """The documents whose ``category`` is one of ``categories`` (the Uncheatable Eval layout)."""
    if "category" not in docs.column_names:
        raise CorpusError(f"task {task}: {corpus} has no field 'category' to select {list(categories)} from")
    present = docs["category"]
    keep = [i for i, c in enumerate(present) if c in set(categories)]
    if not keep:
        raise CorpusError(
            f"task {task}: {corpus} has no documents of categories {list(categories)} (it has {sorted(set(present))})"
        )
    return docs.select(keep)


def checked_documents(dataset, split: str, field: str, categories: tuple[str, ...], task: str, corpus: str):
    """The split's documents with text in ``field`` (empty ones dropped), of the given categories if any;
    every error names the task and the corpus."""
    if split not in dataset:
        raise CorpusError(f"task {task}: {corpus} has no split {split!r} (has {list(dataset)})")
    docs = dataset[split]
    if field not in docs.column_names:
        raise CorpusError(
            f"task {task}: {corpus} has no field {field!r} (fields: {docs.column_names}); "
            "set metadata.text_field to the field that holds the text"
        )
    if categories:
        docs = select_categories(docs, categories, task, corpus)
    texts = docs[field]
    for i, text in enumerate(texts):
        if text is not None and not isinstance(text, str):
            kind = article(type(text).__name__)
            raise CorpusError(f"task {task}: document {i} of {corpus} has {kind} in {field!r}, not text")
    keep = [i for i, t in enumerate(texts) if t]
    if not keep:
        raise CorpusError(f"task {task}: {corpus} has no non-empty documents in {field!r}")
    return docs.select(keep) if len(keep) < len(texts) else docs
