"""Regenerate the documented example of the report: docs/correlate.md, docs/correlate_example.png and
docs/correlate_many_models.png.

Writes synthetic results files (``lm_eval_compression.report.synthetic``, saved by
lm-eval's own EvaluationTracker) into a temporary ``results/`` folder, runs the
``correlate`` and ``leaderboard`` commands there exactly as shown in the snippet,
and copies the plot and the printed tables into docs/; two more models, with
compression results only, are placed on the fits with ``--predict`` (that run
makes the figure).  A second run on 24 models in tight clusters, with several
benchmarks per area, makes the crowded figure; and the fits of 100 noise draws
of the synthetic models count how often the lower leave-one-out error picks the
form the data was generated with.

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
from lm_eval_compression.report.areas import Area
from lm_eval_compression.report.fit import ModelPoint, fit_area

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
PREDICT = CORRELATE[:-2] + ["--predict", "new-results", "--output-dir", "report"]
LEADERBOARD = ["leaderboard", "results", "--output-dir", "report"]
# the models to predict: latent quality (see synthetic.synthetic_models) inside and beyond the fitted range
NEW_MODELS = {"synthetic/lm-4b-new": 0.6, "synthetic/lm-30b-new": 1.2}
AREAS = {  # area -> (compression task, benchmarks), as in CORRELATE
    "knowledge": ("compression_cc", ["hellaswag/acc_norm", "arc_easy/acc"]),
    "coding": ("compression_python", ["humaneval/pass@1,create_test"]),
    "math": ("compression_arxiv_math", ["gsm8k/exact_match,strict-match"]),
}
GENERATED = {"knowledge": "linear", "coding": "log", "math": "linear"}  # how synthetic.SCORE_LINES made them
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
`compression_arxiv_math`. Luo et al. (2025) report the relation for coding as
logarithmic rather than linear, so `correlate` fits both forms, `score = a + b × bpc`
and `score = a + b × ln(bpc)`, and shows which one predicts left-out models better.
Evaluate each model on the `compression` group and the benchmarks of your choice, with
the same `--output_path`:

```bash
lm_eval --model hf --model_args pretrained=EleutherAI/pythia-410m \\
  --include_path "$(python -m lm_eval_compression tasks-dir)" \\
  --tasks compression,hellaswag,arc_easy,humaneval,gsm8k --confirm_run_unsafe_code \\
  --output_path results
```

then fit (needs the `report` extra: `pip install 'lm-eval-compression[report]'`):

```bash
{correlate}
```

It reads every `results_*.json` under the folders given (per model, each task from the
newest file holding it), pairs each area with its corpus (`NAME:TASK=...` pairs any
other task; `--bpc-task TASK --score task/metric ...` is the plain form), averages the
area's benchmarks, and prints one table per area: models sorted by BPC and, for each
form, the score its fit on all models predicts and the leave-one-out error (the model's
score minus the prediction of that form fitted without it). Below the table: Pearson r
with its 95 % interval, Spearman rho, each form's least-squares fit with standard
errors, R² and leave-one-out RMSE/MAE, and the form with the lower leave-one-out RMSE
(statistics from `scipy.stats`, least squares by `scipy.stats.linregress`, leave-one-out
fits by `numpy.polyfit`). The output below comes from synthetic results files (eight
made-up models, see `docs/make_correlate_example.py`), not from real models; their
coding scores were generated logarithmic in BPC, the other areas' linear:

{correlate_output}
The lower leave-one-out error is evidence about your models, not a verdict: over few
models it picks the wrong form now and then. On the same synthetic areas with eight
models and 100 random draws of the noise, it picked the form the data was generated
with in {choice_rates}.

`report/` then holds `correlate.md`, `correlate.csv` (one row per model and area: bpc,
score, and per form `linear_`/`log_` `predicted`, `residual`, `loo_predicted`,
`loo_error`), `correlate_stats.csv` (one row per area: the correlations, per form the
coefficients, their standard errors, R², residual sd and leave-one-out RMSE/MAE, and
`better_form`) and the plot as `correlate.png` and `correlate.svg`: one panel per area,
both fits with the 95 % confidence bands of their mean prediction (solid over the fitted
BPC range, dotted beyond it), the legend giving each form's R² and leave-one-out RMSE,
each model labelled. A model is shown by a readable name: a hub id as given
(`EleutherAI/pythia-410m`), a local model folder by its last component, a GGUF model by
its file name without `.gguf` (`SmolLM2-135M-Instruct.Q4_1`); two models that would share
a name keep their full paths, and `--label MODEL_OR_PATH=NAME` renames one.

![score against bits-per-character, synthetic example](correlate_example.png)

### Predicting a model's scores from its BPC

`--predict RESULTS ...` (results files or folders, after the fitted ones) places other
models on the fits: for each area, the score each form predicts for the model's BPC, with
the 95 % prediction interval of one model's score (`prediction ± t(0.975, n - 2) × s ×
sqrt(1 + 1/n + (x - mean)² / Sxx)`, x being BPC or ln BPC). These models need only the
area's compression task, run with the same settings on the same documents as the fitted
ones (refused otherwise, like above); their benchmark scores are not read, and they are
not part of the fit. A BPC outside the fitted models' range is marked **extrapolation**:
there the two forms part ways, and each interval holds only if its form does. Here two
more synthetic models, run on the `compression` group only, one of them compressing
better than every fitted model:

```bash
{predict}
```

prints the tables above and then:

{predict_output}
With `--output-dir` the same goes to `correlate_predictions.csv` (one row per model and
area) and `correlate_predictions.json` (per model and area: bpc, the fitted range,
`position` (`below`, `within`, `above`), `extrapolation`, and per form `predicted`,
`interval_low`, `interval_high` and the fit's `loo_rmse`), and the plot shows each of
these models as an open diamond at the better form's prediction with its prediction
interval (the figure above). The interval takes the fitted models' scatter into
account, not the error of the new model's own BPC (a few thousandths), and a score is
not clipped to [0, 1].

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
corpus with full runs of the others. It refuses, naming the file and the task, numbers it
cannot rank or fit: a bpc that is NaN, infinite, negative or (for the log form) zero, a
benchmark score that is not finite, and a compression task whose results file does not
say how it was computed (neither the plugin's `compression` settings block nor
`block_size`, `stride` and `protocol` in the task's metadata). With `--predict` it also
refuses a results file given both to fit and to predict. It then exits with status 2.

The paper's BPC table, one row per model sorted by the average:

```bash
{leaderboard}
```

{leaderboard_output}
The Average is always the mean of the columns shown. The table refuses, like `correlate`,
tasks computed with other settings or on other documents across models, a bpc it cannot
rank (NaN, infinite, negative) or a task without its recorded settings, and a row that
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


def write_new_models(folder: Path) -> None:
    """Results of the compression group only, for the models to predict."""
    quality, names = list(NEW_MODELS.values()), list(NEW_MODELS)
    models = synthetic.synthetic_models(len(NEW_MODELS), seed=5, quality=quality, names=names)
    for model in models:
        results = synthetic.make_results(model["model"], model["bpc"], {})
        synthetic.write_results(folder, model["model"], results)


def choice_rates(seeds: int = 100) -> str:
    """How often the lower leave-one-out RMSE picks the generating form, per area, over ``seeds`` noise draws."""
    hits = dict.fromkeys(AREAS, 0)
    for seed in range(seeds):
        models = synthetic.synthetic_models(8, seed)
        for name, (task, specs) in AREAS.items():
            scores = [sum(m["scores"][s] for s in specs) / len(specs) for m in models]
            points = [ModelPoint(m["model"], m["bpc"][task], score) for m, score in zip(models, scores)]
            hits[name] += fit_area(points, Area(name, task, ())).better_form == GENERATED[name]
    parts = [f"{100 * hits[name] / seeds:.0f} % of the draws for {name} ({GENERATED[name]})" for name in AREAS]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synthetic.write_suite(work / "results")
        write_new_models(work / "new-results")
        correlate_output = run(CORRELATE, work)
        predict_output = run(PREDICT, work).split("## Predicted scores\n\n", 1)[1]
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
        choice_rates=choice_rates(),
        predict=shown(PREDICT),
        predict_output=predict_output,
        leaderboard=shown(LEADERBOARD),
        leaderboard_output=leaderboard_output,
    )
    (DOCS / "correlate.md").write_text(text, encoding="utf-8")
    print(f"wrote {DOCS / 'correlate.md'}, {DOCS / 'correlate_example.png'} and {DOCS / 'correlate_many_models.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
