"""Real compression: ``compress`` / ``decompress`` a corpus with a model's probabilities and a range coder.

Modules::

    coding    the window schedule both sides run, and range coding of every token's distribution
    archive   the compressed file: a compact binary header, then the coder's words
    commands  the two commands: read the corpus, load the model through the harness, report vs bpc
"""
