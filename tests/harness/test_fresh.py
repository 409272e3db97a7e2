"""compression_fresh: the Uncheatable Eval snapshot layout, end to end through the lm_eval command."""

import json
import math

from tests.support.cli import TASKS_DIR, run_lm_eval

ROWS = [
    ("wikipedia_english", "The river rises in the hills and flows north to the sea."),
    ("bbc_news", "Officials said the bridge would reopen next week after repairs."),
    ("github_python", "def area(r):\n    return 3.14159 * r * r\n"),
    ("arxiv_math", "Let $G$ be a finite group. Then every subgroup has order dividing $|G|$."),
    ("ao3_english", "She closed the door and the story ended."),
    ("github_cpp", "int main() { return 0; }"),
    ("wikipedia_english", "A lighthouse stands at the end of the pier."),
    ("github_python", "import os\nprint(os.getcwd())\n"),
    ("bbc_news", ""),
    ("arxiv_math", "Theorem 2. Every bounded monotone sequence of reals converges."),
]
EXPECTED = {
    "compression_fresh_cc": {"wikipedia_english", "bbc_news"},
    "compression_fresh_python": {"github_python"},
    "compression_fresh_arxiv_math": {"arxiv_math"},
}


def test_fresh_group_selects_exactly_its_categories(tiny_models, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "UncheatableEval-2026-07.jsonl", "w") as f:
        for cat, text in ROWS:
            f.write(json.dumps({"content": text, "category": cat}) + "\n")
    results, _ = run_lm_eval(
        [
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_models['plain']},dtype=float32",
            "--tasks",
            "compression_fresh",
            "--include_path",
            str(TASKS_DIR),
            "--device",
            "cpu",
            "--log_samples",
            "--metadata",
            json.dumps({"data_dir": str(data), "block_size": 32, "stride": 8}),
        ],
        cwd=tmp_path,
    )
    for task, cats in EXPECTED.items():
        samples = next((tmp_path / "out").rglob(f"samples_{task}_*.jsonl")).read_text().splitlines()
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
