"""Command-line entry point: ``python -m lm_eval_compression <command> ...``."""

from __future__ import annotations

import importlib
import sys

# command -> (``module`` or ``module:function``, one-line help); the function (default ``main``) takes
# the arguments and returns the exit status.
COMMANDS = {
    "tasks-dir": (
        "lm_eval_compression.harness.discovery:tasks_dir_main",
        "print the folder to pass to lm_eval --include_path",
    ),
    "correlate": (
        "lm_eval_compression.report.correlate_command",
        "linear and log fits of benchmark scores against bpc, and predictions, from results files",
    ),
    "leaderboard": (
        "lm_eval_compression.report.leaderboard_command",
        "bpc per corpus and mean for every model in results files",
    ),
    "compare": (
        "lm_eval_compression.compare.command",
        "two runs on the same documents: paired bpc differences, where they differ, an HTML page",
    ),
    "collect": ("lm_eval_compression.collect", "build fresh corpora (python, arxiv_math, cc) as JSON lines"),
    "demo": ("lm_eval_compression.demo", "run the compression group on SmolLM2-135M-Instruct and the shipped sample"),
    "compress": (
        "lm_eval_compression.codec.commands",
        "range-code a corpus with the model's probabilities, report vs bpc",
    ),
    "decompress": ("lm_eval_compression.codec.commands:decompress_main", "restore a corpus written by compress"),
}


def usage() -> str:
    lines = ["usage: python -m lm_eval_compression <command> [options]", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, _, function = COMMANDS[command][0].partition(":")
    return getattr(importlib.import_module(module), function or "main")(rest)


if __name__ == "__main__":
    sys.exit(main())
