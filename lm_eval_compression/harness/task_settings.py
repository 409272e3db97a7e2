"""A compression task's settings, read once from its ``metadata`` (YAML < ``--model_args`` < ``--metadata``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..engine.membership import DEFAULT_K
from ..engine.settings import WindowSettings, WindowSettingsError


def parse_windows_in_flight(value, where: str) -> int:
    """Windows per call to the vLLM engine (``--model vllm`` only): a positive integer."""
    if isinstance(value, bool) or not str(value).strip().isdigit() or int(value) < 1:
        raise WindowSettingsError(f"windows_in_flight must be a positive integer, got {value!r} ({where})")
    return int(value)


def parse_min_k(value, where: str) -> float | None:
    """The Min-K% fraction ``k`` in (0, 1]; ``0`` or ``false`` turns the membership signals off (``None``)."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("false", "off", "0")):
        return None
    try:
        k = float(value)
    except (TypeError, ValueError):
        k = float("nan")
    if isinstance(value, bool) or not 0 <= k <= 1:
        raise WindowSettingsError(
            f"min_k must be a fraction in (0, 1] such as 0.2 for 20 %, or 0 to turn Min-K% off, got {value!r} ({where})"
        )
    return k or None


def parse_token_records(value, where: str) -> str | None:
    """The folder of the per-token records: ``true`` for ``token_records`` in the working directory, a
    path, or ``false`` (off)."""
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in ("", "false", "off")):
        return None
    if value is True or (isinstance(value, str) and value.strip().lower() in ("true", "on")):
        return "token_records"
    if not isinstance(value, str):
        raise WindowSettingsError(f"token_records must be true, false or a folder path, got {value!r} ({where})")
    return value.strip()


def parse_group_by(value, where: str) -> str | None:
    """A dotted field path (``meta.language``) or nothing."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or any(not part for part in value.strip().split(".")):
        raise WindowSettingsError(
            f"group_by must be a field path such as 'subset' or 'meta.language', got {value!r} ({where})"
        )
    return value.strip()


def parse_categories(value) -> tuple[str, ...]:
    """Categories as a tuple, from a YAML list or a comma-separated string."""
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(c.strip() for c in value.split(",") if c.strip())
    return tuple(str(c) for c in value)


@dataclass(frozen=True)
class TaskSettings:
    """Everything a compression task reads from its metadata; :attr:`windows` travels with its requests."""

    windows: WindowSettings
    text_field: str = "content"
    windows_in_flight: int | None = None
    data_dir: str | None = None  # a local folder that holds the corpus file
    data_file: str | None = None  # the file's name there, when not ``<config>.jsonl``
    categories: tuple[str, ...] = ()  # Uncheatable Eval categories the task keeps
    snapshot: str | None = None  # another Uncheatable Eval snapshot, ``org/name[@revision]``
    group_by: str | None = None  # a document field path: bpc per value of it (harness.groups)
    min_k: float | None = DEFAULT_K  # Min-K% fraction; None: no membership signals
    token_records: str | None = None  # folder of the per-token records; None: no records

    @classmethod
    def from_metadata(cls, metadata: Mapping | None, task: str) -> TaskSettings:
        meta = {k: v for k, v in (metadata or {}).items() if v is not None}
        where = f"task {task}"
        in_flight = meta.get("windows_in_flight")
        return cls(
            windows=WindowSettings.parse(meta, where),
            text_field=str(meta.get("text_field", cls.text_field)),
            windows_in_flight=None if in_flight is None else parse_windows_in_flight(in_flight, where),
            data_dir=None if meta.get("data_dir") in (None, "") else str(meta["data_dir"]),
            data_file=meta.get("data_file") or None,
            categories=parse_categories(meta.get("categories")),
            snapshot=meta.get("snapshot") or None,
            group_by=parse_group_by(meta.get("group_by"), where),
            min_k=parse_min_k(meta.get("min_k", DEFAULT_K), where),
            token_records=parse_token_records(meta.get("token_records"), where),
        )

    def metadata(self) -> dict:
        """The effective window settings and text field, written back into the task's metadata."""
        out = {**self.windows.as_set(), "text_field": self.text_field}
        if self.windows_in_flight is not None:
            out["windows_in_flight"] = self.windows_in_flight
        return out
