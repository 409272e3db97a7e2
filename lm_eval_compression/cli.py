"""Small command-line helpers: where the task YAMLs are."""

from __future__ import annotations

import argparse
from importlib import resources


def tasks_dir() -> str:
    """Folder holding the task YAMLs, for ``lm_eval --include_path``."""
    return str(resources.files("lm_eval_compression.tasks"))


def main(argv: list[str]) -> int:
    """``tasks-dir`` command."""
    argparse.ArgumentParser(
        prog="python -m lm_eval_compression tasks-dir",
        description="Print the folder to pass to lm_eval --include_path.",
    ).parse_args(argv)
    print(tasks_dir())
    return 0
