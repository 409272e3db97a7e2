"""SmolLM2-135M compresses real text of the shipped sample corpora to within 1 % of the bpc that the
compression task reports for the same text and settings, and decompresses it byte for byte.

The round trips are the ``real_round_trips`` fixture (conftest.py): 300-character slices of one short
document per corpus at 32/16 windows here, and with ``--full`` (``make test-full``) the first three documents
of each corpus (about 20,000 characters) at the task's default 1900/512 windows, which the README's table
comes from (``pytest -s --full -m full tests/codec/test_compress_real.py`` prints it).
"""

import pytest

from lm_eval_compression.codec import report as report_module

pytestmark = [pytest.mark.real_model, pytest.mark.slow]


def test_smollm2_round_trip_is_byte_identical(real_round_trips):
    for name, trip in real_round_trips["trips"].items():
        assert trip["corpus"].texts == trip["texts"], name
        assert [t.encode("utf-8") for t in trip["back"].texts] == [t.encode("utf-8") for t in trip["texts"]], name


def test_smollm2_round_trip_reaches_the_task_bpc(real_round_trips):
    slack_bits = real_round_trips["scale"].slack_bits
    tables = []
    for name, trip in real_round_trips["trips"].items():
        texts, task_bpc, info = trip["texts"], trip["task_bpc"], trip["info"]
        sizes = report_module.baselines(trip["corpus"].texts)
        built = report_module.build_report(
            trip["header"], trip["run"], task_bpc, sizes, report_module.RoundTrip(info.seconds, True)
        )
        tables.append(built.table())
        report = built.as_dict()
        chars = sum(len(t) for t in texts)
        assert report["chars"] == chars
        # the range coder's output is within 1 % of the task's bpc (on short text, plus the coder's closing
        # words); the whole file adds only the small header
        gap_bits = abs(report["bpc_payload"] - task_bpc) * chars
        assert gap_bits < 0.01 * task_bpc * chars + slack_bits, (name, report["bpc_payload"], task_bpc)
        assert report["header_bits"] <= 8 * 112
        assert report["bpc_achieved"] == pytest.approx(report["bpc_payload"] + report["header_bits"] / chars)
        # the coder's exact (quantised) arithmetic costs well under 1 % of the float model's bits
        assert report["bpc_model"] == pytest.approx(task_bpc, rel=1e-2)
        assert report["bpc_achieved"] < report["baselines_bits"]["xz -9"] / chars
    print("\n\n".join(tables))
