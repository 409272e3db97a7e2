"""The start-up hook never breaks anything else, tried with real interpreters in throw-away environments.

- A ``lm_eval_compression.pth`` left behind without its package is silent for every ``python`` and ``pip`` start.
- With the task folder gone (a wheel install missing it, an editable install whose folder was moved), every
  ``TaskManager()`` still works, without the compression tasks, and the hook prints one line, once.
- ``LM_EVAL_COMPRESSION_AUTOLOAD=0`` keeps the tasks out with the folder in place.

The environments are built as in ``test_install.py``: a venv that sees this environment's packages through plain
path lines (so this environment's own install of the package is not active there) plus what each test puts in.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from lm_eval_compression.harness import discovery
from tests.harness.test_install import copy_project, overlay_venv, pip
from tests.support.cli import REPO, offline_env

# Two task managers in one process (a report made once shows on the first only): the built-in tasks are there,
# the compression tasks are not.
TASK_MANAGERS = (
    "from lm_eval.tasks import TaskManager\n"
    "managers = [TaskManager() for _ in range(2)]\n"
    "print(all('wikitext' in tm.all_tasks for tm in managers), "
    "sorted({t for tm in managers for t in tm.all_tasks if t.startswith('compression')}))\n"
)


def python_in(python: Path, args: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    environment = offline_env(env)
    environment.pop("PYTHONPATH", None)
    if "LM_EVAL_COMPRESSION_AUTOLOAD" not in env:
        environment.pop("LM_EVAL_COMPRESSION_AUTOLOAD", None)
    return subprocess.run([str(python), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


def site_packages(python: Path, cwd: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(python_in(python, ["-c", code], cwd).stdout.strip())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    project = copy_project(root / "project")
    pip(sys.executable, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root), str(project))
    (built,) = root.glob("lm_eval_compression-*.whl")
    return built


def installed(wheel: Path, folder: Path) -> Path:
    """A throw-away environment with the wheel installed; its python."""
    python = overlay_venv(folder)
    pip(python, "install", "--no-deps", "--ignore-installed", str(wheel))
    return python


@pytest.fixture(scope="module")
def wheel_python(wheel, tmp_path_factory) -> Path:
    """An environment with the wheel installed, shared by the tests that leave it as it is."""
    return installed(wheel, tmp_path_factory.mktemp("installed") / "venv")


def test_a_leftover_pth_without_its_package_is_silent(tmp_path):
    python = overlay_venv(tmp_path / "venv")
    site = site_packages(python, tmp_path)
    shutil.copy2(REPO / "lm_eval_compression.pth", site / "lm_eval_compression.pth")
    for args in (["-c", "pass"], ["-m", "pip", "--version"], ["-c", "import lm_eval.tasks"]):
        proc = python_in(python, args, tmp_path)
        assert proc.returncode == 0 and proc.stderr == "", (args, proc.stderr)
    proc = python_in(python, ["-c", TASK_MANAGERS], tmp_path)
    assert proc.returncode == 0 and proc.stdout.split("\n")[0] == "True []", proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def harness_output(wheel_python, tmp_path_factory) -> list[str]:
    """What the harness itself prints for the task managers: the hook switched off. The off switch works: with
    the task folder in place, its tasks are not added."""
    proc = python_in(
        wheel_python, ["-c", TASK_MANAGERS], tmp_path_factory.mktemp("off"), LM_EVAL_COMPRESSION_AUTOLOAD="0"
    )
    assert proc.returncode == 0 and proc.stdout.split("\n")[0] == "True []", proc.stdout + proc.stderr[-4000:]
    return proc.stderr.splitlines()


def check_task_managers_work_without_the_tasks(python: Path, cwd: Path, baseline: list[str]) -> None:
    """Every TaskManager() works; the hook adds at most one line to what the harness itself prints."""
    proc = python_in(python, ["-c", TASK_MANAGERS], cwd)
    print(f"\nstderr of two TaskManager() calls:\n{proc.stderr}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.split("\n")[0] == "True []", proc.stdout
    extra = [line for line in proc.stderr.splitlines() if line not in baseline]
    assert len(extra) <= 1 and "Traceback" not in proc.stderr, proc.stderr[-4000:]
    assert all("lm-eval-compression" in line for line in extra), extra


def test_a_wheel_install_without_its_task_folder_leaves_task_managers_working(wheel, harness_output, tmp_path):
    python = installed(wheel, tmp_path / "venv")
    shutil.rmtree(site_packages(python, tmp_path) / "lm_eval_compression" / "tasks")
    check_task_managers_work_without_the_tasks(python, tmp_path, harness_output)


@pytest.mark.slow
def test_an_editable_install_whose_task_folder_moved_leaves_task_managers_working(harness_output, tmp_path):
    project = copy_project(tmp_path / "project")
    python = overlay_venv(tmp_path / "venv")
    pip(python, "install", "--no-deps", "--ignore-installed", "--no-build-isolation", "-e", str(project))
    (project / "tasks").rename(project / "tasks-moved")
    check_task_managers_work_without_the_tasks(python, tmp_path, harness_output)


# A harness that loads the ``lm_eval.tasks`` entry-point group, as the harness's task-plugin proposal does
# (``lm_eval/tasks/manager.py``: ``TASKS_ENTRY_POINT_GROUP`` and the entry points' package folders indexed
# after the built-in tasks and before ``include_path``), made from the installed harness by wrapping the one
# call that builds its task index. Either way the script records every folder list the index is built from.
HARNESS = """
import importlib.metadata, importlib.util, json, sys
from pathlib import Path
from lm_eval.tasks import manager
from lm_eval.tasks._index import TaskIndex

plugins = sys.argv[1] == "plugins"
built = []
build = TaskIndex.build

def entry_point_folders():
    found = []
    for ep in importlib.metadata.entry_points(group="lm_eval.tasks"):
        spec = importlib.util.find_spec(ep.value.split(":")[0])
        found.append(Path(spec.submodule_search_locations[0]).resolve())
    return found

def recording_build(paths, **kwargs):
    paths = list(paths)
    if plugins:
        defaults = 1 if paths and paths[0] == Path(manager.__file__).parent else 0
        paths = paths[:defaults] + entry_point_folders() + paths[defaults:]
    built.append([Path(p).resolve() for p in paths])
    return build(paths, **kwargs)

TaskIndex.build = staticmethod(recording_build)
if plugins:
    manager.TASKS_ENTRY_POINT_GROUP = "lm_eval.tasks"

import lm_eval_compression.harness.discovery as discovery
ours = discovery.tasks_folder().resolve()
for kwargs in ({}, {"include_path": str(ours)}):
    built.clear()
    tm = manager.TaskManager(**kwargs)
    (paths,) = built
    print(json.dumps({
        "include_path": bool(kwargs),
        "entry_point": ours in entry_point_folders(),
        "times_indexed": sum(p == ours for p in paths),
        "compression_cc": str(Path(tm._index["compression_cc"].yaml_path).resolve().parent == ours),
        "wikitext": "wikitext" in tm.all_tasks,
    }))
"""


def test_the_package_declares_its_task_folder_as_an_lm_eval_tasks_entry_point(wheel_python, tmp_path):
    code = (
        "import importlib.metadata as md; "
        "print([(e.name, e.value, e.dist.name) for e in md.entry_points(group='lm_eval.tasks')])"
    )
    proc = python_in(wheel_python, ["-c", code], tmp_path)
    assert proc.stdout.strip() == "[('lm_eval_compression', 'lm_eval_compression.tasks', 'lm-eval-compression')]"


@pytest.mark.parametrize("harness", ["plugins", "plain"])
def test_the_tasks_are_indexed_exactly_once_whether_or_not_the_harness_loads_entry_points(
    wheel_python, tmp_path, harness
):
    """With a harness that loads the group the hook steps aside; without one it adds the folder itself. An
    ``include_path`` naming the same folder never makes it indexed twice."""
    proc = python_in(wheel_python, ["-c", HARNESS, harness], tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    print(f"\n{harness}: {rows}")
    assert [r["include_path"] for r in rows] == [False, True]
    for row in rows:
        assert row["entry_point"], row  # the harness stand-in sees the package's folder through the group
        assert row["times_indexed"] == 1 and row["compression_cc"] == "True" and row["wikitext"], row
    assert "overrides existing task" not in proc.stderr + proc.stdout


# ------------------------------------------------------------------ the same decisions in-process, on a fake
def recording_task_manager(module_name: str):
    """A class with the harness's ``TaskManager.__init__`` parameters that records what it was given."""

    def __init__(self, verbosity=None, include_path=None, include_defaults=True, metadata=None):
        self.include_path, self.include_defaults = include_path, include_defaults

    cls = type("TaskManager", (), {"__init__": __init__, "__module__": module_name})
    discovery.patch_task_manager(cls)
    return cls


def test_a_failing_hook_builds_every_task_manager_as_asked_and_reports_once(monkeypatch, caplog):
    def gone():
        raise ModuleNotFoundError("No module named 'lm_eval_compression.tasks'")

    monkeypatch.setattr(discovery, "tasks_folder", gone)
    monkeypatch.setattr(discovery, "_reported", [])
    cls = recording_task_manager(__name__)
    with caplog.at_level(logging.WARNING):
        managers = [cls(), cls(include_path="/mine"), cls(include_path=["/a", "/b"], include_defaults=True)]
    assert [tm.include_path for tm in managers] == [None, "/mine", ["/a", "/b"]]
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.getMessage().startswith("lm-eval-compression: its tasks are not added to the harness: the task")
    assert "\n" not in record.getMessage()


def test_the_hook_adds_its_folder_unless_the_harness_declares_the_entry_point_group(monkeypatch):
    ours = discovery.tasks_folder().resolve()
    plain = recording_task_manager(__name__)
    assert plain().include_path == [ours]
    assert plain(include_path=[str(ours), "/mine"]).include_path == [ours, "/mine"]
    assert plain(include_defaults=False).include_path is None

    harness = types.ModuleType("harness_with_task_entry_points")
    harness.TASKS_ENTRY_POINT_GROUP = "lm_eval.tasks"
    monkeypatch.setitem(sys.modules, harness.__name__, harness)
    loading = recording_task_manager(harness.__name__)
    assert discovery.harness_loads_entry_points(loading) and not discovery.harness_loads_entry_points(plain)
    assert loading().include_path is None
    assert loading(include_path=str(ours)).include_path is None
    assert loading(include_path=[str(ours), "/mine"]).include_path == ["/mine"]
    subclass = type("PluginTaskManager", (loading,), {"__module__": __name__})
    assert subclass(include_path="/mine").include_path == "/mine"
