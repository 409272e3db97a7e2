"""The same pipeline on datatrove's other executors: Ray (a local Ray instance started here; the output
must equal the local executor's) and Slurm (the sbatch scripts datatrove writes, submitted to a stand-in
``sbatch`` that records them)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from tests.collect.fixtures import collect, read_jsonl
from tests.collect.web_pages import web_records, write_warc


def _doc_steps(manifest: dict) -> list[dict]:
    """The document steps without their parameters (the task count is one of them)."""
    return [{k: v for k, v in s.items() if k != "params"} for s in manifest["steps"] if s["kind"] == "documents"]


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="ray is part of the collect extra (pip install -e '.[collect]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_executor_output_equals_local(local_ray, repos, tmp_path):
    repo_list = tmp_path / "repos.json"
    repo_list.write_text(json.dumps(repos["repo_list"]))
    common = [
        "--repos-dir",
        repos["root"],
        "--repo-list",
        repo_list,
        "--after",
        "2023-09-01",
        "--max-file-bytes",
        repos["big_bytes"] - 1,
        "--no-progress",
    ]
    collect("python", "extract", *common, "--out", tmp_path / "local")
    collect(
        "python",
        "extract",
        *common,
        "--out",
        tmp_path / "ray",
        "--executor",
        "ray",
        "--tasks",
        2,
        "--workers",
        2,
        "--mem-per-cpu-gb",
        0.5,
    )

    local_rows = (tmp_path / "local" / "python.jsonl").read_text()
    ray_rows = (tmp_path / "ray" / "python.jsonl").read_text()
    assert len(read_jsonl(tmp_path / "ray" / "python.jsonl")) == 4
    assert ray_rows == local_rows  # same documents, same order, byte for byte
    local = json.loads((tmp_path / "local" / "python.manifest.json").read_text())
    on_ray = json.loads((tmp_path / "ray" / "python.manifest.json").read_text())
    assert _doc_steps(on_ray) == _doc_steps(local)
    assert on_ray["final"]["docs"] == local["final"]["docs"] == 4
    assert on_ray["parameters"]["executor"] == "ray" and on_ray["parameters"]["tasks"] == 2
    # every task of every stage ran on Ray and left datatrove's completion marker
    work = tmp_path / "ray" / "work" / "python"
    assert sorted(p.name for p in (work / "stages" / "01_extract" / "logs" / "completions").iterdir()) == [
        "00000",
        "00001",
    ]
    if os.environ.get("COLLECT_MANIFESTS_DIR"):  # the side-by-side manifests for a report
        for name, m in (("local", local), ("ray", on_ray)):
            path = os.path.join(os.environ["COLLECT_MANIFESTS_DIR"], f"python.{name}.manifest.json")
            with open(path, "w") as f:
                json.dump(m, f, indent=2)


FAKE_SBATCH = """#!/bin/sh
# records each submission: the arguments and a copy of the script; answers like sbatch
n=$(ls "$SBATCH_LOG" | wc -l)
n=$((n + 1))
script=""
for a in "$@"; do script="$a"; done
{ echo "$@"; cat "$script"; } > "$SBATCH_LOG/$(printf %03d $n).sub"
echo "Submitted batch job $((1000 + n))"
"""


def test_slurm_submission_scripts(tmp_path, monkeypatch):
    bin_dir, log = tmp_path / "bin", tmp_path / "sbatch_log"
    bin_dir.mkdir()
    log.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(FAKE_SBATCH)
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_LOG", str(log))
    warc = write_warc(tmp_path / "pages.warc.gz", web_records())
    out = tmp_path / "out"
    collect(
        "cc",
        "extract",
        "--warc",
        warc,
        "--after",
        "2023-09-01",
        "--out",
        out,
        "--no-progress",
        "--executor",
        "slurm",
        "--tasks",
        4,
        "--workers",
        3,
        "--partition",
        "cpu-long",
        "--time",
        "05:30:00",
        "--cpus-per-task",
        2,
        "--mem-per-cpu-gb",
        3,
        "--job-name",
        "ccfresh",
        "--venv",
        "/opt/env/bin/activate",
        "--sbatch-arg",
        "account=proj42",
    )

    assert not (out / "cc.jsonl").exists()  # submitted, not run
    stages = sorted((out / "work" / "cc" / "stages").iterdir())
    scripts = {p.name.split("_", 1)[1]: (p / "logs" / "launch_script.slurm").read_text() for p in stages}
    assert list(scripts) == [
        "extract",
        "exact_dedup_find",
        "exact_dedup",
        "near_dedup_buckets",
        "near_dedup_clusters",
        "near_dedup",
        "sample",
        "manifest",
    ]
    for name, script in scripts.items():
        lines = set(script.splitlines())
        for option in (
            "--partition=cpu-long",
            "--time=05:30:00",
            "--cpus-per-task=2",
            "--mem-per-cpu=3G",
            f"--job-name=ccfresh_{name}",
            "--account=proj42",
        ):
            assert f"#SBATCH {option}" in lines, (name, option)
        assert "source /opt/env/bin/activate" in script
        assert "launch_pickled_pipeline" in script
    # tasks split into a job array, at most --workers at a time; single-task stages are one job
    assert "#SBATCH --array=0-3%3" in scripts["extract"] and "#SBATCH --array=0-3%3" in scripts["near_dedup"]
    assert "#SBATCH --array=0-0%1" in scripts["sample"]
    assert "#SBATCH --array=0-7%3" in scripts["near_dedup_buckets"]  # one task per LSH band (8 at 0.85)
    # each stage job waits for the one before (datatrove also submits a stats-merging job after each)
    submissions = [p.read_text().splitlines()[0].split() for p in sorted(log.iterdir())]
    stage_jobs = [(1001 + i, args) for i, args in enumerate(submissions) if args[0].startswith("--export=")]
    assert len(stage_jobs) == len(scripts)
    assert not any(a.startswith("--dependency") for a in stage_jobs[0][1])
    for (before, _), (_, args) in zip(stage_jobs, stage_jobs[1:], strict=False):
        assert f"--dependency=afterok:{before}" in args


@pytest.mark.parametrize(
    "option, message",
    [
        (["--executor", "slurm"], "--executor slurm needs --partition"),
        (["--tasks", "0"], "--tasks must be at least 1"),
        (["--near-dup-threshold", "1.5"], "--near-dup-threshold must be in"),
        (["--decontaminate", "missing.jsonl"], "--decontaminate missing.jsonl: no such file"),
        (["--sbatch-arg", "account"], "expected KEY=VALUE"),
    ],
)
def test_bad_execution_settings_fail_before_work(tmp_path, option, message):
    with pytest.raises(SystemExit, match=message):
        collect("cc", "extract", "--warc", tmp_path / "none.warc.gz", "--out", tmp_path, *option)
    assert not (tmp_path / "work").exists()
