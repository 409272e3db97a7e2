"""Installed with pip (a built wheel, then editable), the tasks are found without ``--include_path``.

Each install goes into a fresh virtual environment that reuses this environment's packages (torch, the
harness, ...) through a plain path line in a ``.pth`` file, which adds the folder but runs none of its
start-up files, so this environment's own (editable) install of the package is not active there: the package
and its start-up hook come only from what pip installs into the new environment.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import REPO, offline_env

PROJECT_FILES = ["setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md", "lm_eval_compression.pth"]
OVERRIDE_WARNING = "overrides existing task"


def copy_project(dest: Path) -> Path:
    """The files a build needs, copied so that building leaves the repository untouched."""
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "lm_eval_compression", dest / "lm_eval_compression", ignore=ignore)
    shutil.copytree(REPO / "tasks", dest / "tasks", ignore=ignore)
    return dest


def overlay_venv(path: Path) -> Path:
    """A venv without pip whose ``sys.path`` ends with this environment's site-packages; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # every site-packages folder of this interpreter (this environment may itself be layered on another)
    folders = dict.fromkeys([sysconfig.get_paths()["purelib"], *(p for p in sys.path if p.endswith("site-packages"))])
    Path(site, "_base_environment.pth").write_text("".join(f"{f}\n" for f in folders))
    return python


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600)


def run(python: Path, args: list[str], cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = offline_env(env_extra)
    if not env_extra:
        env.pop("LM_EVAL_COMPRESSION_AUTOLOAD", None)
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def installed_location(python: Path, cwd: Path) -> tuple[str, str]:
    code = "import lm_eval_compression.harness.discovery as d; print(d.__file__); print(d.tasks_folder())"
    out = run(python, ["-c", code], cwd).stdout.split("\n")
    return out[0], out[1]


def listed_rows(table: str) -> dict[str, str]:
    """``lm_eval ls tasks`` tables: first cell (group or task name) -> second cell (its YAML)."""
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if line.startswith("|") and len(cells) > 3:
            rows[cells[1]] = cells[2]
    return rows


@dataclass(frozen=True)
class Checks:
    """What ``check_tasks_found`` runs in an installed environment: ``lm_eval run`` on compression_cc (with
    ``--include_path`` to the installed tasks folder or without), ``lm_eval ls tasks`` once per entry of
    ``listings`` (True: with that ``--include_path``), and the switch that turns discovery off."""

    run_include_path: bool
    listings: tuple[bool, ...]
    off_switch: bool


# make test runs each check once over the two installs; make test-full (--full) runs every check on both.
WHEEL = {"short": Checks(True, (False,), True), "full": Checks(False, (False, True), True)}
EDITABLE = {"short": Checks(False, (), False), "full": Checks(False, (False,), False)}
SCALES = ["short", pytest.param("full", marks=pytest.mark.full)]


def check_tasks_found(python: Path, cwd: Path, tiny_model: str, corpus: str, checks: Checks) -> None:
    """The CLI evaluates compression_cc and lists the tasks, found without --include_path; the flag to the same
    folder gives no duplicate-task warning (the harness logs "Task ... overrides existing task ..." for a
    folder indexed twice) and lists them once; the switch turns discovery off."""
    folder = installed_location(python, cwd)[1]
    out = cwd / "out"
    shutil.rmtree(out, ignore_errors=True)
    proc = run(
        python,
        [
            "-m",
            "lm_eval",
            "run",
            "--model",
            "hf",
            "--device",
            "cpu",
            "--model_args",
            f"pretrained={tiny_model},dtype=float32",
            "--tasks",
            "compression_cc",
            "--metadata",
            json.dumps({"data_dir": corpus, "block_size": 32, "stride": 8}),
            "--limit",
            "2",
            "--output_path",
            str(out),
            *(["--include_path", folder] if checks.run_include_path else []),
        ],
        cwd,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert OVERRIDE_WARNING not in proc.stderr + proc.stdout
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    bpc = results["results"]["compression_cc"]["bpc,none"]
    assert isinstance(bpc, float) and bpc > 0

    for include_path in checks.listings:
        listed = run(
            python, ["-m", "lm_eval", "ls", "tasks", *(["--include_path", folder] if include_path else [])], cwd
        )
        assert listed.returncode == 0, listed.stderr[-4000:]
        rows = listed_rows(listed.stdout)
        for name in ("compression", "compression_cc", "compression_fresh", "compression_fresh_python"):
            assert rows.get(name) == str(Path(folder, f"{name}.yaml")), (name, rows.get(name))
        assert OVERRIDE_WARNING not in listed.stderr + listed.stdout
    if checks.off_switch:
        code = (
            "from lm_eval.tasks import TaskManager; tm = TaskManager(); "
            "print('compression_cc' in tm.all_tasks, 'wikitext' in tm.all_tasks)"
        )
        off = run(python, ["-c", code], cwd, env_extra={"LM_EVAL_COMPRESSION_AUTOLOAD": "0"})
        assert off.stdout.split() == ["False", "True"], off.stderr[-4000:]


@pytest.mark.slow
@pytest.mark.versions
@pytest.mark.parametrize("scale", SCALES)
def test_wheel_install_finds_the_tasks(tiny_models, corpus_dir, tmp_path, scale):
    project = copy_project(tmp_path / "project")
    wheels = tmp_path / "wheels"
    pip(sys.executable, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(project))
    (wheel,) = wheels.glob("lm_eval_compression-*.whl")

    python = overlay_venv(tmp_path / "venv")
    pip(python, "install", "--no-deps", "--ignore-installed", str(wheel))
    site = Path(
        run(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).stdout.strip()
    )
    assert (site / "lm_eval_compression.pth").is_file()
    module, folder = installed_location(python, tmp_path)
    assert Path(module).is_relative_to(site) and Path(folder).is_relative_to(site)
    check_tasks_found(python, tmp_path, tiny_models["plain"], corpus_dir, WHEEL[scale])

    pip(python, "uninstall", "-y", "lm-eval-compression")
    assert not (site / "lm_eval_compression.pth").exists()
    assert not (site / "lm_eval_compression").exists()


@pytest.mark.slow
@pytest.mark.parametrize("scale", SCALES)
def test_editable_install_finds_the_tasks(tiny_models, corpus_dir, tmp_path, scale):
    project = copy_project(tmp_path / "project")
    python = overlay_venv(tmp_path / "venv")
    site = Path(
        run(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).stdout.strip()
    )
    pip(python, "install", "--no-deps", "--ignore-installed", "--no-build-isolation", "-e", str(project))
    assert (site / "lm_eval_compression.pth").is_file()
    module, folder = installed_location(python, tmp_path)
    assert Path(module).is_relative_to(project) and Path(folder) == project / "tasks"
    check_tasks_found(python, tmp_path, tiny_models["plain"], corpus_dir, EDITABLE[scale])

    pip(python, "uninstall", "-y", "lm-eval-compression")
    assert not (site / "lm_eval_compression.pth").exists()
