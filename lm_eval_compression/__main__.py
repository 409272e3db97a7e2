"""Command-line entry point: ``python -m lm_eval_compression <command> ...``."""

from __future__ import annotations

import importlib
import sys

# command -> (module, one-line help); each module exposes ``main(argv) -> int``.
COMMANDS = {
    "tasks-dir": ("lm_eval_compression.cli", "print the folder to pass to lm_eval --include_path"),
    "correlate": ("lm_eval_compression.correlate", "linear fit of benchmark scores against bpc from results files"),
    "leaderboard": ("lm_eval_compression.correlate", "bpc per corpus and mean for every model in results files"),
    "collect": ("lm_eval_compression.collect", "build fresh corpora (python, arxiv_math, cc) as JSON lines"),
    "demo": ("lm_eval_compression.demo", "run the compression group on SmolLM2-135M-Instruct and the shipped sample"),
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
    module = importlib.import_module(COMMANDS[command][0])
    if command == "leaderboard":
        return module.leaderboard_main(rest)
    return module.main(rest) if command != "tasks-dir" else module.tasks_dir_main(rest)


if __name__ == "__main__":
    sys.exit(main())
