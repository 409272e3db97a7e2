"""Window settings: parsed and checked once, then carried as one frozen value.

A task reads them from its ``metadata`` (YAML < ``--model_args`` < ``--metadata``), ``compress`` from its
flags; both go through :meth:`WindowSettings.parse`, whose errors name the setting and where it came from.
Window BOS and the prefix token depend on the model: :meth:`WindowSettings.for_model` records what they
resolve to (and why) for the model at hand.  The defaults below are those of the task template YAML
(``tasks/_compression_template_yaml``; a test checks that they agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

PROTOCOLS = ("document", "paper")
WINDOW_BOS_SETTINGS = ("auto", True, False)


class WindowSettingsError(ValueError):
    """A window setting is invalid; the message names the setting."""


def _integer(name: str, value, at: str) -> int:
    if isinstance(value, bool):
        raise WindowSettingsError(f"{name} must be an integer, got {value!r}{at}")
    try:
        as_int = int(value)
    except (TypeError, ValueError):
        raise WindowSettingsError(f"{name} must be an integer, got {value!r}{at}") from None
    if isinstance(value, float) and value != as_int:
        raise WindowSettingsError(f"{name} must be an integer, got {value!r}{at}")
    return as_int


def check_settings(block_size, stride, protocol, *, where: str = "") -> tuple[int, int, str]:
    """Validate window settings and return them normalised; raise a clear error otherwise."""
    at = f" ({where})" if where else ""
    block_size, stride = _integer("block_size", block_size, at), _integer("stride", stride, at)
    if block_size < 2:
        raise WindowSettingsError(f"block_size must be at least 2, got {block_size}{at}")
    if stride < 1:
        raise WindowSettingsError(f"stride must be at least 1, got {stride}{at}")
    if stride > block_size:
        raise WindowSettingsError(
            f"stride ({stride}) must not exceed block_size ({block_size}){at}: "
            "tokens between windows would never be scored"
        )
    if protocol not in PROTOCOLS:
        raise WindowSettingsError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}{at}")
    return block_size, stride, protocol


def parse_window_bos(value, where: str = ""):
    """``auto``, ``True`` or ``False`` from a setting written as a bool or as text."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    at = f" ({where})" if where else ""
    raise WindowSettingsError(f"window_bos must be auto, true or false, got {value!r}{at}")


@dataclass(frozen=True)
class WindowSettings:
    """The windows of one evaluation: as set, and (after :meth:`for_model`) as applied to a model."""

    block_size: int = 1900
    stride: int = 512
    protocol: str = "document"
    window_bos: str | bool = "auto"  # the setting: "auto", True or False
    # Resolved for a model by for_model(): whether later windows start with BOS, why, and the prefix token.
    use_window_bos: bool | None = None
    window_bos_reason: str | None = None
    prefix_token_id: int | None = None
    prefix_token: str | None = None

    @classmethod
    def parse(cls, values: Mapping, where: str = "") -> WindowSettings:
        """Settings from a mapping (task metadata, command-line flags); missing or ``None`` keys take the
        defaults.  Raises :class:`WindowSettingsError` naming the setting and ``where``."""
        given = {f.name: values[f.name] for f in fields(cls)[:4] if values.get(f.name) is not None}
        merged = {**{f.name: f.default for f in fields(cls)[:4]}, **given}
        block_size, stride, protocol = check_settings(
            merged["block_size"], merged["stride"], merged["protocol"], where=where
        )
        window_bos = parse_window_bos(merged["window_bos"], where)
        if protocol == "paper" and window_bos is True:
            at = f" ({where})" if where else ""
            raise WindowSettingsError(
                f"window_bos=true has no meaning for protocol=paper, which reproduces the reference windows{at}"
            )
        return cls(block_size, stride, protocol, window_bos)

    def for_model(
        self, use_window_bos: bool, reason: str, prefix_token_id: int | None, prefix_token: str | None
    ) -> WindowSettings:
        """These settings as applied to a model: window BOS on or off and why, and its prefix token."""
        return replace(
            self,
            use_window_bos=use_window_bos,
            window_bos_reason=reason,
            prefix_token_id=prefix_token_id,
            prefix_token=prefix_token,
        )

    def as_set(self) -> dict:
        """The four settings as a user sets them (the values compression requests carry)."""
        return {
            "block_size": self.block_size,
            "stride": self.stride,
            "protocol": self.protocol,
            "window_bos": self.window_bos,
        }

    def model_facts(self) -> dict:
        """What the model made of the settings, as each document's response and the results file show it."""
        return {
            "prefix_token_id": self.prefix_token_id,
            "prefix_token": self.prefix_token,
            "window_bos": self.use_window_bos,
            "window_bos_reason": self.window_bos_reason,
        }

    def summary(self) -> dict:
        """The ``compression`` block's window fields in the results file."""
        return {
            "block_size": self.block_size,
            "stride": self.stride,
            "protocol": self.protocol,
            "window_bos_setting": self.window_bos,
            **self.model_facts(),
        }
