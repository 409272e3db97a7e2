"""Window settings: one parse with clear errors, defaults defined once and equal to the task template's."""

import pytest
import yaml

from lm_eval_compression.engine.settings import WindowSettings, WindowSettingsError
from lm_eval_compression.harness.task_settings import TaskSettings
from tests.support.cli import TASKS_DIR


def template_metadata() -> dict:
    text = (TASKS_DIR / "_compression_template_yaml").read_text()
    # the template names its class with a YAML tag the plain loader does not know
    return yaml.safe_load(text.replace("!function ", ""))["metadata"]


def test_template_yaml_and_python_defaults_are_equal():
    meta = template_metadata()
    defaults = WindowSettings()
    assert {k: meta[k] for k in ("block_size", "stride", "protocol")} == {
        "block_size": defaults.block_size,
        "stride": defaults.stride,
        "protocol": defaults.protocol,
    }
    assert str(meta["window_bos"]) == defaults.window_bos
    assert meta["text_field"] == TaskSettings.text_field
    assert TaskSettings.from_metadata({}, "t").windows == WindowSettings.parse(meta) == defaults


def test_parse_normalises_and_keeps_the_defaults_for_missing_values():
    s = WindowSettings.parse({"block_size": "64", "stride": 16.0, "window_bos": "TRUE", "protocol": None})
    assert (s.block_size, s.stride, s.protocol, s.window_bos) == (64, 16, "document", True)
    assert s.use_window_bos is None and s.prefix_token_id is None  # not yet applied to a model


@pytest.mark.parametrize(
    "values,message",
    [
        ({"window_bos": "maybe"}, "window_bos must be auto, true or false, got 'maybe' (task t)"),
        ({"protocol": "paper", "window_bos": True}, "window_bos=true has no meaning for protocol=paper"),
        ({"stride": 0}, "stride must be at least 1, got 0 (task t)"),
    ],
)
def test_parse_names_the_setting_and_where_it_came_from(values, message):
    with pytest.raises(WindowSettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        WindowSettings.parse(values, where="task t")


def test_applying_to_a_model_makes_a_new_value():
    s = WindowSettings(32, 8)
    applied = s.for_model(True, "set", 5, "<s>")
    assert s.use_window_bos is None and applied.use_window_bos is True
    assert applied.summary() == {
        "block_size": 32,
        "stride": 8,
        "protocol": "document",
        "window_bos_setting": "auto",
        "prefix_token_id": 5,
        "prefix_token": "<s>",
        "window_bos": True,
        "window_bos_reason": "set",
    }
    with pytest.raises(AttributeError):
        applied.stride = 4
