"""The report on results files: where models sit on the compression line, and the BPC table.

Modules, each one step (only :mod:`.plot` imports matplotlib, only :mod:`.line` and :mod:`.fit` scipy)::

    results      read results_*.json files, one entry per model, readable model names
    areas        which benchmark scores are fitted against which compression task
    values       a task's metric and a task's or group's bpc, with errors naming what is missing
    comparable   refuse results computed with other settings, corpora or document sets
    forms        the two forms of a fit: score linear in bpc, or in ln(bpc)
    line         one least-squares line in one form: intervals, leave-one-out errors (scipy.stats)
    fit          both forms' lines of one area, the correlations, which form predicts better
    correlate    check, then fit every area
    predict      the scores other models' bpc predicts, with prediction intervals, extrapolation marked
    leaderboard  bpc per corpus and the mean of the columns
    render       markdown tables, CSV and JSON files
    plot         one panel per area: both forms' fits and the predicted models; titles wrapped to fit
    label_layout where each model's label goes: no overlaps with labels or points
    synthetic    made-up results files (linear and logarithmic areas) for the documentation and the tests
    cli, correlate_command, leaderboard_command   the two commands
"""
