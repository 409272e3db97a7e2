"""``compare`` against independent computations from the runs' own files: the paired difference and its
errors, the subdomain tables, per-character bits (both tokenizers, both protocols), the top lines, and the
refusal of runs that do not pair up."""

from __future__ import annotations

import ast
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lm_eval_compression.compare import command
from lm_eval_compression.compare.characters import per_character, spread

LN2 = math.log(2)
TASKS = ("compression_cc", "compression_python", "compression_arxiv_math")


def samples(out: Path, task: str) -> list[dict]:
    """The logged samples of ``task``, by doc_id, each with its response parsed."""
    rows = [json.loads(line) for line in next(out.rglob(f"samples_{task}_*.jsonl")).read_text().splitlines()]
    for row in rows:
        resp = row["resps"][0][0]
        row["resp"] = ast.literal_eval(resp) if isinstance(resp, str) else resp
    return sorted(rows, key=lambda r: r["doc_id"])


def results(out: Path) -> dict:
    return json.loads(next(out.rglob("results_*.json")).read_text())


def per_doc_bits(out: Path, task: str) -> tuple[np.ndarray, np.ndarray]:
    rows = samples(out, task)
    bits = np.array([-r["resp"]["loglikelihood"] / LN2 for r in rows])
    return bits, np.array([len(r["doc"]["content"]) for r in rows], dtype=float)


def delta_se(x: np.ndarray, c: np.ndarray) -> float:
    """The delta-method error of sum(x)/sum(c), written out from its textbook form."""
    n, r = len(x), x.sum() / c.sum()
    return math.sqrt(n / (n - 1) * sum((xi - r * ci) ** 2 for xi, ci in zip(x, c))) / c.sum()


def test_paired_difference_equals_an_independent_computation(compare_runs, compared):
    a, b = compare_runs["document"]
    for task in TASKS:
        got = compared["json"]["tasks"][task]["paired"]
        bits_a, chars = per_doc_bits(a, task)
        bits_b, _ = per_doc_bits(b, task)
        diff = (bits_a - bits_b).sum() / chars.sum()
        se = delta_se(bits_a - bits_b, chars)
        half = stats.t.ppf(0.975, len(chars) - 1) * se
        assert got["difference"] == pytest.approx(diff, abs=1e-12)
        assert got["stderr"] == pytest.approx(se, rel=1e-10)
        assert (got["low"], got["high"]) == pytest.approx((diff - half, diff + half), rel=1e-10)
        unpaired = math.hypot(delta_se(bits_a, chars), delta_se(bits_b, chars))
        assert got["unpaired_stderr"] == pytest.approx(unpaired, rel=1e-10)
        assert got["a_better"] == pytest.approx(np.mean(bits_a / chars < bits_b / chars))
        # the harness's own numbers for each model
        for side, out in (("a", a), ("b", b)):
            harness = results(out)["results"][task]
            assert got[f"bpc_{side}"] == pytest.approx(harness["bpc,none"], rel=1e-12)
            assert got[f"stderr_{side}"] == pytest.approx(harness["bpc_stderr,none"], rel=1e-9)
    mean = compared["json"]["mean"]
    parts = [compared["json"]["tasks"][t]["paired"] for t in TASKS]
    assert mean["difference"] == pytest.approx(np.mean([p["difference"] for p in parts]), abs=1e-12)
    assert mean["stderr"] == pytest.approx(math.sqrt(sum(p["stderr"] ** 2 for p in parts)) / 3, rel=1e-12)
    assert mean["bpc_a"] == pytest.approx(results(a)["groups"]["compression"]["bpc,none"], rel=1e-12)


def test_subdomain_tables_equal_an_independent_computation(compare_runs, compared):
    a, b = compare_runs["document"]
    for task in TASKS:
        entry = compared["json"]["tasks"][task]
        assert entry["group_by"] == "meta.kind"
        assert entry["settings"]["window_bos_setting"] == "auto"
        assert entry["window_bos"] == {"a": True, "b": False}  # A's tokenizer adds BOS, B's does not
        kinds = np.array([r["doc"]["meta"]["kind"] for r in samples(a, task)])
        bits_a, chars = per_doc_bits(a, task)
        bits_b, _ = per_doc_bits(b, task)
        assert sorted(entry["groups"]) == sorted(set(kinds))
        for kind, got in entry["groups"].items():
            m = kinds == kind
            assert got["difference"] == pytest.approx((bits_a[m] - bits_b[m]).sum() / chars[m].sum(), abs=1e-12)
            assert got["documents"] == int(m.sum())


def records_file(out: Path, task: str) -> Path:
    """The task's Parquet records, as its results file names them."""
    return Path(results(out)["configs"][task]["compression"]["run"]["records"]["path"])


def records_frame(out: Path, task: str):
    import pandas as pd

    return pd.read_parquet(records_file(out, task))


def test_per_character_bits_sum_to_each_documents_bits_for_both_tokenizers(compare_runs):
    counts = {}
    for side, out in zip("ab", compare_runs["document"]):
        for task in TASKS:
            bits, chars = per_doc_bits(out, task)
            ids = np.array([r["doc_id"] for r in samples(out, task)])
            counts[side, task] = len(records_frame(out, task))
            chars_bits = per_character(records_file(out, task), ids, chars.astype(np.int64))
            for doc_id, want, n in zip(ids, bits, chars):
                got = chars_bits[int(doc_id)]
                assert len(got) == n
                assert got.sum() == pytest.approx(want, rel=1e-9, abs=1e-9)
                assert (got >= 0).all()
    for task in TASKS:  # the two tokenizers really cut the text differently
        assert counts["a", task] != counts["b", task]


def test_per_character_bits_in_the_paper_protocol(compare_runs):
    """Windows cross documents and the stream's tail is not scored: each document's characters still sum to
    exactly the bits credited to it."""
    for res in compare_runs["paper"]:
        rows = sorted(res["samples"]["compression_python"], key=lambda r: r["doc_id"])
        resps = [r["resps"][0][0] for r in rows]
        ids = np.array([r["doc_id"] for r in rows])
        chars = np.array([len(r["doc"]["content"]) for r in rows])
        path = Path(res["configs"]["compression_python"]["compression"]["run"]["records"]["path"])
        got = per_character(path, ids, chars)
        for doc_id, resp in zip(ids.tolist(), resps):
            assert got[doc_id].sum() == pytest.approx(-resp["loglikelihood"] / LN2, rel=1e-9, abs=1e-9)


def test_the_spreading_rule():
    # characters 0..4; token 1 spans two characters, token 2 is empty (a later byte of character 2)
    starts, ends = np.array([0, 1, 3, 3, 4]), np.array([1, 3, 3, 4, 5])
    bits = np.array([1.0, 4.0, 0.5, 2.0, 3.0])
    np.testing.assert_array_equal(spread(starts, ends, bits, 5), [1.0, 2.0, 2.5, 2.0, 3.0])
    # an empty span at the start goes to the first character
    np.testing.assert_array_equal(spread(np.array([0, 0]), np.array([0, 2]), np.array([1.0, 2.0]), 2), [2.0, 1.0])


def test_top_lines_are_the_lines_with_most_excess_bits(compare_runs, compared):
    a, b = compare_runs["document"]
    data = compared["json"]
    for task in TASKS:
        entry = data["tasks"][task]
        texts = {r["doc_id"]: r["doc"]["content"] for r in samples(a, task)}
        ids = np.array(sorted(texts))
        chars = np.array([len(texts[i]) for i in ids])
        ca = per_character(records_file(a, task), ids, chars)
        cb = per_character(records_file(b, task), ids, chars)
        every = []
        for doc_id, text in texts.items():
            start = 0
            for line in text.splitlines(keepends=True):
                if line.strip():
                    every.append(
                        ca[doc_id][start : start + len(line)].sum() - cb[doc_id][start : start + len(line)].sum()
                    )
                start += len(line)
        worst = sorted((e for e in every if e > 0), reverse=True)[:4]
        best = sorted(e for e in every if e < 0)[:4]
        assert [x["excess_bits"] for x in entry["top_lines"]["a_loses"]] == pytest.approx(worst, abs=1e-9)
        assert [x["excess_bits"] for x in entry["top_lines"]["b_loses"]] == pytest.approx(best, abs=1e-9)
        for line in entry["top_lines"]["a_loses"] + entry["top_lines"]["b_loses"]:
            assert line["text"] == texts[line["doc_id"]][line["start"] : line["end"]]
            assert line["bits_a"] - line["bits_b"] == pytest.approx(line["excess_bits"], abs=1e-9)
            assert [s["end"] - s["start"] for s in line["segments"]] and line["segments"][-1]["end"] == line["chars"]


def edited_copy(run: Path, dest: Path, edit) -> Path:
    """A copy of a run folder with ``edit(results dict, samples path)`` applied."""
    shutil.copytree(run, dest)
    path = next(dest.rglob("results_*.json"))
    data = json.loads(path.read_text())
    edit(data, dest)
    path.write_text(json.dumps(data))
    return dest


def set_block(key, value):
    def edit(data, _):
        data["configs"]["compression_python"]["compression"][key] = value

    return edit


def drop_a_document(data, folder):
    path = next(folder.rglob("samples_compression_cc_*.jsonl"))
    path.write_text("\n".join(path.read_text().splitlines()[1:]) + "\n")


def change_a_text(data, folder):
    path = next(folder.rglob("samples_compression_cc_*.jsonl"))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["doc"]["content"] += "!"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(
    "edit, message",
    [
        (set_block("stride", 8), "compression_python has window setting stride 16 in"),
        (set_block("protocol", "paper"), "window setting protocol 'document'"),
        (set_block("window_bos_setting", True), "window setting window_bos 'auto'"),
        (set_block("corpus_sha256", "0" * 64), "corpus hash (corpus_sha256)"),
        (drop_a_document, "compression_cc scored other documents: 6 in"),
        (change_a_text, "has another text in"),
    ],
    ids=["stride", "protocol", "window_bos", "corpus", "documents", "text"],
)
def test_runs_that_do_not_pair_up_are_refused_with_the_reason(compare_runs, tmp_path, capsys, edit, message):
    a, b = compare_runs["document"]
    odd = edited_copy(b, tmp_path / "odd", edit)
    assert command.main([str(a), str(odd), "-o", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err
    assert message in err and "not comparable" in err
    assert not (tmp_path / "cmp").exists()


def test_a_run_without_samples_is_refused(compare_runs, tmp_path, capsys):
    a, b = compare_runs["document"]
    shutil.copytree(b, tmp_path / "b")
    for path in (tmp_path / "b").rglob("samples_*.jsonl"):
        path.unlink()
    assert command.main([str(a), str(tmp_path / "b"), "-o", str(tmp_path / "cmp")]) == 2
    assert "--log_samples" in capsys.readouterr().err
