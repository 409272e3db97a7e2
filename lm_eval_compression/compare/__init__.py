"""``compare``: two models on the same text, side by side, to the character.

Modules, each one step (only :mod:`.figures` imports matplotlib, only :mod:`.paired` scipy)::

    runs        read an lm_eval output folder: settings, per-document values and texts, curves, records
    checks      refuse two runs that do not pair up (windows, corpus, documents), naming the difference
    paired      the paired difference of two bpcs with its delta-method error and t interval
    characters  per-character bits from per-token records (the spreading rule), lines of a text
    lines       the lines where one model loses most, and their colour segments
    build       the whole comparison as one JSON-ready dict
    markdown    its summary table
    figures     context-length curves of both models; per-document scatter with the diagonal
    page        the self-contained HTML page
    command     ``python -m lm_eval_compression compare RUN_A RUN_B -o DIR``
"""
