"""The report on results files: where models sit on the compression line, and the BPC table.

Modules, each one step (only :mod:`.plot` imports matplotlib, only :mod:`.fit` scipy)::

    results      read results_*.json files, one entry per model, readable model names
    areas        which benchmark scores are fitted against which compression task
    values       a task's metric and a task's or group's bpc, with errors naming what is missing
    comparable   refuse results computed with other settings, corpora or document sets
    fit          the line of one area (scipy.stats) and leave-one-out errors
    correlate    check, then fit every area
    leaderboard  bpc per corpus and the mean of the columns
    render       markdown tables and CSV files
    plot         one panel per area, titles wrapped to fit
    label_layout where each model's label goes: no overlaps with labels or points
    synthetic    made-up results files for the documentation's example and the tests
    cli, correlate_command, leaderboard_command   the two commands
"""
