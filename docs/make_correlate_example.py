"""Regenerate the documented example of the report: docs/correlate.md, docs/correlate_example.png and
docs/correlate_many_models.png.

Writes synthetic results files (``lm_eval_compression.report.synthetic``, saved by
lm-eval's own EvaluationTracker) into a temporary ``results/`` folder, runs the
``correlate`` and ``leaderboard`` commands there exactly as shown in the snippet,
and copies the plot and the printed tables into docs/.  A second run on 24
models in tight clusters, with several benchmarks per area, makes the crowded
figure.

    python docs/make_correlate_example.py
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lm_eval_compression.report import synthetic

DOCS = Path(__file__).resolve().parent

CORRELATE = [
    "correlate",
    "results",
    "--area",
    "knowledge=hellaswag/acc_norm,arc_easy/acc",
    "--area",
    "coding=humaneval/pass@1,create_test",
    "--area",
    "math=gsm8k/exact_match,strict-match",
    "--output-dir",
    "report",
]
LEADERBOARD = ["leaderboard", "results", "--output-dir", "report"]
CROWDED = (
    ["correlate", "results"]
    + [arg for name, specs in synthetic.CROWDED_AREAS.items() for arg in ("--area", f"{name}={','.join(specs)}")]
    + ["--output-dir", "report"]
)

TEMPLATE = """\
## Where does a model sit on the compression line?

Huang et al. (2024), *Compression Represents Intelligence Linearly*, found that across
base models the average benchmark score falls almost linearly with bits-per-character
(Pearson r about -0.95), per area: knowledge & commonsense against `compression_cc`,
coding against `compression_python`, mathematical reasoning against
`compression_arxiv_math`. Evaluate each model on the `compression` group and the
benchmarks of your choice, with the same `--output_path`:

```bash
lm_eval --model hf --model_args pretrained=EleutherAI/pythia-410m \\
  --include_path "$(python -m lm_eval_compression tasks-dir)" \\
  --tasks compression,hellaswag,arc_easy,humaneval,gsm8k --confirm_run_unsafe_code \\
  --output_path results
```

then fit the line (needs the `report` extra: `pip install 'lm-eval-compression[report]'`):

```bash
{correlate}
```

It reads every `results_*.json` under the folders given (per model, each task from the
newest file holding it), pairs each area with its corpus (`NAME:TASK=...` pairs any
other task; `--bpc-task TASK --score task/metric ...` is the plain form), averages the
area's benchmarks, and prints one table per area: models sorted by BPC, the score the
line predicts, the residual, and the leave-one-out error (the model's score minus the
prediction of the line fitted without it), then Pearson r with its 95 % interval,
Spearman rho, the least-squares line and the leave-one-out RMSE/MAE (all from
`scipy.stats`). The output below comes from synthetic results files (eight made-up
models, see `docs/make_correlate_example.py`), not from real models:

{correlate_output}
`report/` then holds `correlate.md`, `correlate.csv` (one row per model and area),
`correlate_stats.csv` and the plot as `correlate.png` and `correlate.svg`: one panel per
area, the fit line with the 95 % confidence band of the mean prediction, each model
labelled. A model is shown by a readable name: a hub id as given
(`EleutherAI/pythia-410m`), a local model folder by its last component, a GGUF model by
its file name without `.gguf` (`SmolLM2-135M-Instruct.Q4_1`); two models that would share
a name keep their full paths, and `--label MODEL_OR_PATH=NAME` renames one.

![score against bits-per-character, synthetic example](correlate_example.png)

Labels are placed so that none overlaps another label or a point, with a thin line to
its point when it had to move away, and a title lists all of the area's benchmarks on
up to three lines. The same command on 24 synthetic models in tight clusters, with six,
two and three benchmarks per area:

![24 models with close points](correlate_many_models.png)

The command refuses, naming the file and the setting, results that cannot share a line:
compression tasks computed with a different `block_size`, `stride`, `protocol` or
`window_bos`, or on a different corpus (`corpus_sha256`), a model without a requested
task or metric (`gsm8k/exact_match` when the file only has `exact_match,strict-match`),
fewer than three models, or a group's mean bpc that would combine a `--limit` run of one
corpus with full runs of the others. It then exits with status 2.

The paper's BPC table, one row per model sorted by the average:

```bash
{leaderboard}
```

{leaderboard_output}
The Average is always the mean of the columns shown. The table refuses, like `correlate`,
tasks computed with other settings or on other documents across models, and a row that
would mix document sets: a newer `lm_eval --limit 2` run of `compression_cc` next to a
full run of the other corpora is named with both files, not averaged in.
"""


def run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "lm_eval_compression", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def shown(args: list[str]) -> str:
    """The command as a reader would type it, one option per line."""
    words = ["python", "-m", "lm_eval_compression", args[0], args[1]]
    lines = [" ".join(words)]
    rest = args[2:]
    for i in range(0, len(rest), 2):
        lines.append("  " + " ".join(shlex.quote(w) for w in rest[i : i + 2]))
    return " \\\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synthetic.write_suite(work / "results")
        correlate_output = run(CORRELATE, work)
        leaderboard_output = run(LEADERBOARD, work)
        shutil.copyfile(work / "report" / "correlate.png", DOCS / "correlate_example.png")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synthetic.write_suite(work / "results", synthetic.crowded_models())
        run(CROWDED, work)
        shutil.copyfile(work / "report" / "correlate.png", DOCS / "correlate_many_models.png")
    text = TEMPLATE.format(
        correlate=shown(CORRELATE),
        correlate_output=correlate_output,
        leaderboard=shown(LEADERBOARD),
        leaderboard_output=leaderboard_output,
    )
    (DOCS / "correlate.md").write_text(text, encoding="utf-8")
    print(f"wrote {DOCS / 'correlate.md'}, {DOCS / 'correlate_example.png'} and {DOCS / 'correlate_many_models.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
