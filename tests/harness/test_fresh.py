"""compression_fresh: the Uncheatable Eval snapshot layout, end to end through the lm_eval command."""

import json
import math

from tests.support.cli import TASKS_DIR
from tests.support.corpora import FRESH_ROWS

ROWS = FRESH_ROWS
EXPECTED = {
    "compression_fresh_cc": {"wikipedia_english", "bbc_news"},
    "compression_fresh_python": {"github_python"},
    "compression_fresh_arxiv_math": {"arxiv_math"},
}


def test_fresh_group_selects_exactly_its_categories(cli_run):
    """The shared ``lm_eval`` run (conftest.py) scores the group from a snapshot file holding ``ROWS``."""
    results = cli_run["results"]
    for task, cats in EXPECTED.items():
        samples = next(cli_run["out"].rglob(f"samples_{task}_*.jsonl")).read_text().splitlines()
        seen = sorted(json.loads(s)["doc"]["content"] for s in samples)
        assert seen == sorted(t for c, t in ROWS if c in cats and t)
        r = results["results"][task]
        assert r["total_chars,none"] == sum(len(t) for c, t in ROWS if c in cats)
        assert results["configs"][task]["dataset_path"] == "Jellyfish042/UncheatableEval-2026-07"
        assert results["configs"][task]["compression"]["corpus"].endswith("UncheatableEval-2026-07.jsonl")
    group = results["results"]["compression_fresh"]["bpc,none"]
    assert math.isclose(group, sum(results["results"][t]["bpc,none"] for t in EXPECTED) / 3, rel_tol=1e-12)


def test_fresh_hub_loading_matches_the_harness_uncheatable_eval_tasks():
    """Same dataset id, split and text field as the harness's own uncheatable_eval tasks."""
    from pathlib import Path

    import lm_eval
    import yaml

    base = Path(lm_eval.__file__).parent / "tasks" / "uncheatable_eval" / "_uncheatable_eval_base.yaml"
    theirs = yaml.safe_load(base.read_text())
    ours = yaml.safe_load((TASKS_DIR / "_compression_fresh_template_yaml").read_text())
    assert ours["dataset_path"] == theirs["dataset_path"]
    template = yaml.safe_load((TASKS_DIR / "_compression_template_yaml").read_text().replace("!function ", ""))
    assert template["test_split"] == theirs["test_split"] == "test"
    assert theirs["doc_to_target"] == "{{content}}" and template["metadata"]["text_field"] == "content"


def test_snapshot_metadata_points_the_fresh_tasks_at_another_dataset(tiny_models):
    """Offline, loading fails; the error names the snapshot asked for, so the key reached the loader."""
    import pytest

    from tests.support.api import evaluate, load_lm

    with pytest.raises(Exception) as err:
        evaluate(
            load_lm(tiny_models["plain"]),
            ["compression_fresh_python"],
            {"snapshot": "Jellyfish042/UncheatableEval-2099-01", "block_size": 32, "stride": 8},
        )
    assert "UncheatableEval-2099-01" in str(err.value)
