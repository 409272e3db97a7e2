"""The two forms a fit can take, and the term each fits the score against.

``linear``: score = a + b · bpc, the line of Huang et al. (2024).  ``log``:
score = a + b · ln(bpc), the form Luo et al. (2025) report for coding.
"""

from __future__ import annotations

import numpy as np

FORMS = ("linear", "log")
TERMS = {"linear": "bpc", "log": "ln(bpc)"}  # the fitted term of each form, as the report writes it
FORM_NAMES = {"linear": "Linear", "log": "Log"}  # as table headers write them


def term(form: str, bpc):
    """The term a form fits against: bpc itself, or its natural log (float or numpy array)."""
    x = np.asarray(bpc, dtype=float)
    if form == "linear":
        return x
    if form == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)
    raise ValueError(f"unknown form {form!r}: use one of {', '.join(FORMS)}")
