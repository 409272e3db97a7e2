"""A killed run resumes where it stopped (both protocols), and checkpoints of other runs are never used.

The kill-and-rerun sequences are the ``document_resume`` and ``paper_resume`` fixtures (conftest.py, with
tests/support/resume.py), shared with the records, context-length and membership tests of resumed runs.
"""

import math

import numpy as np
import pytest

from lm_eval_compression.engine.resume import StreamCheckpoints
from lm_eval_compression.engine.scoring import Checkpoint


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["document", "paper"])
def test_killed_run_resumes_and_equals_an_uninterrupted_run(protocol, request):
    runs = request.getfixturevalue(f"{protocol}_resume")
    full_res, full_lls = runs["full"]
    total_windows = full_res["configs"]["compression_cc"]["compression"]["run"]["windows"]
    assert not runs["killed_results"]

    res, lls = runs["again"]
    run = res["configs"]["compression_cc"]["compression"]["run"]
    assert 0 < run["windows"] < total_windows
    if protocol == "paper":
        assert run["resumed_windows"] > 0 and run["resumed_windows"] + run["windows"] == total_windows
    print(
        f"\n{protocol}: uninterrupted {total_windows} windows; rerun after SIGKILL scored {run['windows']} "
        f"(resumed {run['resumed_windows']}); bpc {res['results']['compression_cc']['bpc,none']!r} vs "
        f"{full_res['results']['compression_cc']['bpc,none']!r}"
    )
    got, want = res["results"]["compression_cc"], full_res["results"]["compression_cc"]
    for metric in ("bpc,none", "bpb,none"):
        assert math.isclose(got[metric], want[metric], rel_tol=1e-12, abs_tol=0)
    assert lls == full_lls  # every per-document value identical


def test_stream_checkpoint_is_used_only_for_its_stream_and_model(tmp_path):
    cache = str(tmp_path / "cache_rank0.db")
    point = Checkpoint(np.array([-1.5, -2.25, 0.0]), np.array([True, True, False, False]))
    StreamCheckpoints(cache, "stream-a", "model-m", 4, 3).save(point)
    same = StreamCheckpoints(cache, "stream-a", "model-m", 4, 3).load()
    assert same is not None and same.totals.tolist() == [-1.5, -2.25, 0.0] and same.done.tolist() == point.done.tolist()
    assert StreamCheckpoints(cache, "stream-b", "model-m", 4, 3).load() is None  # other corpus or settings
    assert StreamCheckpoints(cache, "stream-a", "model-n", 4, 3).load() is None  # other model
    # A file under this key's name but holding another key or shape is refused too.
    other = StreamCheckpoints(cache, "stream-a", "model-m", 5, 3)
    assert other.path == StreamCheckpoints(cache, "stream-a", "model-m", 4, 3).path
    assert other.load() is None


def test_paper_checkpoint_of_other_settings_is_not_used(paper_resume):
    """A killed paper run leaves a checkpoint; a rerun with another stride ignores it (and leaves it for the
    rerun with the killed run's settings, which resumes from it: the test above)."""
    assert paper_resume["between"]["configs"]["compression_cc"]["compression"]["run"]["resumed_windows"] == 0
