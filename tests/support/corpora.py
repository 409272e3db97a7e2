"""Local corpora in the dataset's schema (``content``, ``subset``, ``meta``) and in the Uncheatable Eval snapshot's
(``content``, ``category``), and the text the tiny tokenizers learn."""

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


# A miniature Uncheatable Eval snapshot: (category, text) rows, one of them empty.
FRESH_ROWS = [
    ("wikipedia_english", "The river rises in the hills and flows north to the sea."),
    ("bbc_news", "Officials said the bridge would reopen next week after repairs."),
    ("github_python", "def area(r):\n    return 3.14159 * r * r\n"),
    ("arxiv_math", "Let $G$ be a finite group. Then every subgroup has order dividing $|G|$."),
    ("ao3_english", "She closed the door and the story ended."),
    ("github_cpp", "int main() { return 0; }"),
    ("wikipedia_english", "A lighthouse stands at the end of the pier."),
    ("github_python", "import os\nprint(os.getcwd())\n"),
    ("bbc_news", ""),
    ("arxiv_math", "Theorem 2. Every bounded monotone sequence of reals converges."),
]


def write_fresh_snapshot(folder, rows) -> Path:
    """Write ``rows`` as ``UncheatableEval-2026-07.jsonl`` in ``folder`` (the fresh tasks' default file)."""
    path = Path(folder) / "UncheatableEval-2026-07.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for category, text in rows:
            f.write(json.dumps({"content": text, "category": category}) + "\n")
    return path
