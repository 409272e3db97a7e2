"""Local corpora in the dataset's schema (``content``, ``subset``, ``meta``), and the text the tiny tokenizers learn."""

from __future__ import annotations

import json
from pathlib import Path

TRAIN_TEXT = [
    "The quick brown fox jumps over the lazy dog. Compression is prediction.",
    "def add(a, b):\n    return a + b\n\nclass Stack:\n    def push(self, x):\n        self.items.append(x)\n",
    "Let $f: X \\to Y$ be a morphism of schemes. Then $\\mathcal{O}_X$ is flat over $Y$.",
    "Café, naïve, Straße, 東京, Ελλάδα — Unicode text counts characters as code points. 🙂",
    "import numpy as np\nfor i in range(10):\n    print(i ** 2)\n",
]


def sample_docs(seed: int, n: int, length: int) -> list[str]:
    import random

    rng = random.Random(seed)
    words = " ".join(TRAIN_TEXT).split()
    docs = []
    for _ in range(n):
        k = rng.randint(1, length)
        docs.append(" ".join(rng.choice(words) for _ in range(k)))
    return docs


def write_corpus(folder, docs_by_task: dict[str, list[str]]) -> str:
    """Write ``<name>.jsonl`` files in the dataset's schema; return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, docs in docs_by_task.items():
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for i, d in enumerate(docs):
                f.write(json.dumps({"content": d, "subset": name, "meta": {"id": i}}, ensure_ascii=False) + "\n")
    return str(folder)


def default_corpora(seed: int = 1) -> dict[str, list[str]]:
    return {
        "cc": sample_docs(seed, 7, 120) + ["", "Ünïcödé text: 東京 🙂 " * 5],
        "python": sample_docs(seed + 1, 5, 150),
        "arxiv_math": sample_docs(seed + 2, 4, 200),
    }
