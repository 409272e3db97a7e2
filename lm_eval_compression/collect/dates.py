"""Dates of source material and the ``[--after, --before)`` range a fresh corpus is drawn from."""

from __future__ import annotations

import datetime as dt


def parse_date(text) -> dt.datetime | None:
    """``YYYY-MM-DD`` or an ISO 8601 date-time (``Z`` allowed) -> aware UTC datetime; None stays None."""
    if text is None or text == "":
        return None
    if isinstance(text, dt.datetime):
        value = text
    else:
        value = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DateRange:
    """Half-open range ``[after, before)``; either end may be open (None)."""

    def __init__(self, after=None, before=None):
        self.after = parse_date(after)
        self.before = parse_date(before)
        if self.after and self.before and self.after >= self.before:
            raise ValueError(f"--after {iso(self.after)} must be earlier than --before {iso(self.before)}")

    def __contains__(self, value) -> bool:
        value = parse_date(value)
        if value is None:  # unknown date: cannot prove it is fresh
            return self.after is None and self.before is None
        if self.after is not None and value < self.after:
            return False
        return self.before is None or value < self.before

    def to_json(self) -> dict:
        return {"after": iso(self.after), "before": iso(self.before)}
