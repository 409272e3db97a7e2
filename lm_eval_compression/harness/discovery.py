"""Let the harness find the compression tasks without ``--include_path``.

The installed package carries a one-line start-up file, ``lm_eval_compression.pth``, that calls
:func:`watch_harness_import` in every Python process of the environment. That only puts a finder in front of
``sys.meta_path``, which ignores every import except ``lm_eval.tasks``; when the harness imports that package,
its ``TaskManager`` is patched to index this package's task folder right after the harness's own tasks,
unless the caller turned the built-in tasks off (``include_defaults=False``) or already passed the folder.
Programs that never import the harness pay only for loading this module (well under a millisecond).

Setting ``LM_EVAL_COMPRESSION_AUTOLOAD=0`` in the environment turns the mechanism off; then the tasks are
found only through ``--include_path "$(python -m lm_eval_compression tasks-dir)"``.
"""

import os
import sys

# Only os and sys at module level: this module is imported at every interpreter start-up.
ENV_SWITCH = "LM_EVAL_COMPRESSION_AUTOLOAD"
HARNESS_TASKS_MODULE = "lm_eval.tasks"
MARK = "_lm_eval_compression_tasks"


def enabled() -> bool:
    """Whether the environment allows the automatic task folder (anything but 0/false/no/off)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def tasks_folder():
    """The folder (a ``Path``) of this package's task YAMLs: inside the installed package, or the repository's
    ``tasks/`` for an editable install."""
    from importlib import resources
    from pathlib import Path

    return Path(str(resources.files("lm_eval_compression.tasks")))


def tasks_dir() -> str:
    """The task folder as a string, for ``lm_eval --include_path``."""
    return str(tasks_folder())


def tasks_dir_main(argv: list[str]) -> int:
    """``python -m lm_eval_compression tasks-dir``: print the folder to pass to ``--include_path``."""
    import argparse

    argparse.ArgumentParser(
        prog="python -m lm_eval_compression tasks-dir",
        description="Print the folder to pass to lm_eval --include_path.",
    ).parse_args(argv)
    print(tasks_dir())
    return 0


def with_tasks_folder(include_path) -> list:
    """``include_path`` (None, one path or a list) with the package's task folder first, never twice."""
    given = (
        []
        if include_path is None
        else list(include_path)
        if isinstance(include_path, (list, tuple))
        else [include_path]
    )
    ours = tasks_folder().resolve()
    others = [p for p in given if not _same_folder(p, ours)]
    return [ours, *others]


def _same_folder(path, folder) -> bool:
    from pathlib import Path

    try:
        return Path(os.path.expanduser(str(path))).resolve() == folder
    except (OSError, RuntimeError):
        return False


def patch_task_manager(task_manager_cls) -> None:
    """Make ``task_manager_cls`` index the compression tasks next to the built-in ones (idempotent)."""
    import inspect

    original = task_manager_cls.__init__
    if getattr(original, MARK, False):
        return
    signature = inspect.signature(original)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        if bound.arguments.get("include_defaults", True):
            bound.arguments["include_path"] = with_tasks_folder(bound.arguments.get("include_path"))
        original(*bound.args, **bound.kwargs)

    __init__.__wrapped__ = original
    __init__.__doc__ = original.__doc__
    setattr(__init__, MARK, True)
    task_manager_cls.__init__ = __init__


class HarnessImportWatcher:
    """Meta-path finder that patches the harness's task manager right after ``lm_eval.tasks`` is executed."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != HARNESS_TASKS_MODULE:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is cls or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _leave_meta_path()
            task_manager = getattr(module, "TaskManager", None)
            if task_manager is not None:
                patch_task_manager(task_manager)

        spec.loader.exec_module = exec_module
        return spec


def _leave_meta_path() -> None:
    if HarnessImportWatcher in sys.meta_path:
        sys.meta_path.remove(HarnessImportWatcher)


def watch_harness_import() -> None:
    """Called at start-up by ``lm_eval_compression.pth``: patch the task manager once the harness loads it."""
    if not enabled():
        return
    loaded = sys.modules.get(HARNESS_TASKS_MODULE)
    if loaded is not None and hasattr(loaded, "TaskManager"):
        patch_task_manager(loaded.TaskManager)
    elif HarnessImportWatcher not in sys.meta_path:
        sys.meta_path.insert(0, HarnessImportWatcher)
