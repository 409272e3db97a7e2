"""Let the harness find the compression tasks without ``--include_path``.

The installed package carries a one-line start-up file, ``lm_eval_compression.pth``, that calls
:func:`watch_harness_import` in every Python process of the environment. That only puts a finder in front of
``sys.meta_path``, which ignores every import except ``lm_eval.tasks``; when the harness imports that package,
its ``TaskManager`` is patched to index this package's task folder right after the harness's own tasks,
unless the caller turned the built-in tasks off (``include_defaults=False``) or already passed the folder.
Programs that never import the harness pay only for loading this module (well under a millisecond).

Setting ``LM_EVAL_COMPRESSION_AUTOLOAD=0`` in the environment turns the mechanism off; then the tasks are
found only through ``--include_path "$(python -m lm_eval_compression tasks-dir)"``.

The package also declares its task folder in the entry-point group ``lm_eval.tasks`` (``setup.cfg``), the group
of the harness's task-plugin proposal (EleutherAI/lm-evaluation-harness pull request 4015). A harness that loads
that group indexes the folder itself, so the hook steps aside for it. Assumption: such a harness release says so
the way that proposal does, with ``TASKS_ENTRY_POINT_GROUP = "lm_eval.tasks"`` in the module that defines its
``TaskManager`` (``lm_eval/tasks/manager.py``); :func:`harness_loads_entry_points` reads exactly that.

The hook never breaks the harness: any failure inside it (the task folder moved or deleted, an unexpected
``TaskManager``) leaves the harness working without the compression tasks and prints one line, once per process.
"""

import os
import sys

# Only os and sys at module level: this module is imported at every interpreter start-up.
ENV_SWITCH = "LM_EVAL_COMPRESSION_AUTOLOAD"
HARNESS_TASKS_MODULE = "lm_eval.tasks"
MARK = "_lm_eval_compression_tasks"
ENTRY_POINT_GROUP = "lm_eval.tasks"
# What a harness that loads ENTRY_POINT_GROUP defines in its TaskManager's module (see the module docstring).
HARNESS_GROUP_ATTRIBUTE = "TASKS_ENTRY_POINT_GROUP"
_reported = []  # the one line this process printed about a failure of the hook


def enabled() -> bool:
    """Whether the environment allows the automatic task folder (anything but 0/false/no/off)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def tasks_folder():
    """The folder (a ``Path``) of this package's task YAMLs: inside the installed package, or the repository's
    ``tasks/`` for an editable install."""
    from importlib import resources
    from pathlib import Path

    return Path(str(resources.files("lm_eval_compression.tasks")))


class TaskFolderMissing(FileNotFoundError):
    """The package's task folder is gone (moved, deleted, a broken install); the message says which."""


def checked_tasks_folder():
    """:func:`tasks_folder`, resolved; :class:`TaskFolderMissing` when it is gone."""
    try:
        folder = tasks_folder().resolve()
    except ImportError as error:
        raise TaskFolderMissing(f"the task package lm_eval_compression.tasks cannot be imported ({error})") from None
    if not (folder / "compression.yaml").is_file():
        raise TaskFolderMissing(f"the task folder {folder} is missing or holds no compression.yaml")
    return folder


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


def as_list(include_path) -> list:
    """``include_path`` (None, one path or a list) as a list."""
    if include_path is None:
        return []
    return list(include_path) if isinstance(include_path, (list, tuple)) else [include_path]


def with_tasks_folder(include_path) -> list:
    """``include_path`` (None, one path or a list) with the package's task folder first, never twice."""
    ours = checked_tasks_folder()
    return [ours, *without_tasks_folder(include_path, ours)]


def without_tasks_folder(include_path, ours) -> list:
    """``include_path`` as a list, less any entry naming the folder ``ours``."""
    return [p for p in as_list(include_path) if not _same_folder(p, ours)]


def _same_folder(path, folder) -> bool:
    from pathlib import Path

    try:
        return Path(os.path.expanduser(str(path))).resolve() == folder
    except (OSError, RuntimeError):
        return False


def report_once(error: BaseException) -> None:
    """One line on stderr (through logging) about a failure of the hook, the first time only."""
    if _reported:
        return
    import logging

    reason = str(error) if isinstance(error, TaskFolderMissing) else f"{type(error).__name__}: {error}"
    message = (
        f"lm-eval-compression: its tasks are not added to the harness: {' '.join(reason.split())}; reinstall "
        "lm-eval-compression or pass its task folder with --include_path"
    )
    _reported.append(message)
    logging.getLogger(__name__).warning(message)


def harness_loads_entry_points(task_manager_cls) -> bool:
    """Whether the harness behind ``task_manager_cls`` indexes the folders of the ``lm_eval.tasks`` entry points
    itself: a module of the class or its bases declares that group as :data:`HARNESS_GROUP_ATTRIBUTE`."""
    return any(
        getattr(sys.modules.get(cls.__module__), HARNESS_GROUP_ATTRIBUTE, None) == ENTRY_POINT_GROUP
        for cls in task_manager_cls.__mro__
    )


def task_manager_arguments(task_manager_cls, bound) -> None:
    """Set ``include_path`` in the bound arguments of ``TaskManager.__init__`` so that the package's task folder
    is indexed exactly once: added unless the caller turned the built-in tasks off; with a harness that loads
    the entry-point group, only removed from ``include_path`` (the harness indexes it already)."""
    include_path = bound.arguments.get("include_path")
    if harness_loads_entry_points(task_manager_cls):
        ours = tasks_folder().resolve()
        if any(_same_folder(p, ours) for p in as_list(include_path)):
            bound.arguments["include_path"] = without_tasks_folder(include_path, ours) or None
    elif bound.arguments.get("include_defaults", True):
        bound.arguments["include_path"] = with_tasks_folder(include_path)


def patch_task_manager(task_manager_cls) -> None:
    """Make ``task_manager_cls`` index the compression tasks next to the built-in ones (idempotent). If that
    fails, the task manager is built exactly as the caller asked and the failure is reported once."""
    import inspect

    original = task_manager_cls.__init__
    if getattr(original, MARK, False):
        return
    signature = inspect.signature(original)

    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            task_manager_arguments(type(self), bound)
        except Exception as error:  # the hook must never stop the harness from building its task manager
            report_once(error)
            return original(self, *args, **kwargs)
        return original(*bound.args, **bound.kwargs)

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
        try:
            return cls.watched_spec(fullname, path, target)
        except Exception as error:  # let the import system find the module as if the watcher were not there
            _leave_meta_path()
            report_once(error)
            return None

    @classmethod
    def watched_spec(cls, fullname, path, target):
        """The spec the other finders give, its loader patching the task manager after executing the module."""
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
            execute(module)  # the harness's own errors propagate unchanged
            try:
                _leave_meta_path()
                task_manager = getattr(module, "TaskManager", None)
                if task_manager is not None:
                    patch_task_manager(task_manager)
            except Exception as error:
                report_once(error)

        spec.loader.exec_module = exec_module
        return spec


def _leave_meta_path() -> None:
    if HarnessImportWatcher in sys.meta_path:
        sys.meta_path.remove(HarnessImportWatcher)


def watch_harness_import() -> None:
    """Called at start-up by ``lm_eval_compression.pth``: patch the task manager once the harness loads it."""
    if not enabled():
        return
    try:
        loaded = sys.modules.get(HARNESS_TASKS_MODULE)
        if loaded is not None and hasattr(loaded, "TaskManager"):
            patch_task_manager(loaded.TaskManager)
        elif HarnessImportWatcher not in sys.meta_path:
            sys.meta_path.insert(0, HarnessImportWatcher)
    except Exception as error:
        report_once(error)
