"""The comparison page in a real browser: headless Chromium loads ``compare.html`` offline; the numbers it
shows match ``compare.json``, every coloured run of characters is there, and the browser logs nothing
(a blocked load or a script error would be logged to its console)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

INSTALL = "install Chromium to run it: apt-get install chromium (Debian/Ubuntu), or set CHROMIUM to its path"
# numbers shown in the summary table: (field, how many decimals the page shows, shown as a percentage)
SHOWN = {
    "bpc_a": 4,
    "bpc_b": 4,
    "difference": 4,
    "stderr": 4,
    "low": 4,
    "high": 4,
    "unpaired_stderr": 4,
    "error_ratio": 1,
}


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
    )
    if found:
        return found
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but no Chromium was found; {INSTALL}")
    pytest.skip(f"this test needs a real browser; {INSTALL}")


def browse(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """Headless Chromium on ``page``, logging its console to stderr, with its own profile folder."""
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    args += [f"--user-data-dir={tmp_path / 'profile'}", *extra, page.resolve().as_uri()]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class Page(HTMLParser):
    """The cells with ``data-key`` and the ``<span data-level>`` runs of each line block, from the DOM."""

    def __init__(self):
        super().__init__()
        self.cells: dict[str, str] = {}
        self.lines: list[list[tuple[int, str]]] = []
        self.images: list[str] = []
        self._cell = self._span = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "td" and "data-key" in attrs:
            self._cell, self.cells[attrs["data-key"]] = attrs["data-key"], ""
        elif tag == "div" and attrs.get("class") == "line":
            self.lines.append([])
        elif tag == "span" and "data-level" in attrs:
            self._span = int(attrs["data-level"])
            self.lines[-1].append((self._span, ""))
        elif tag == "img":
            self.images.append(attrs.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "span":
            self._span = None

    def handle_data(self, data):
        if self._cell:
            self.cells[self._cell] += data
        if self._span is not None:
            level, text = self.lines[-1][-1]
            self.lines[-1][-1] = (level, text + data)


def shown_number(text: str) -> float:
    return float(text.replace("−", "-").rstrip("%"))


def test_the_page_shows_the_json_numbers_and_every_coloured_span(compared, tmp_path):
    page, data = compared["out"] / "compare.html", compared["json"]
    proc = browse(page, tmp_path, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert console(proc.stderr) == [], console(proc.stderr)
    dom = Page()
    dom.feed(proc.stdout)
    rows = {**{task: e["paired"] for task, e in data["tasks"].items()}, "mean": data["mean"]}
    for name, values in rows.items():
        for field, places in SHOWN.items():
            text = dom.cells[f"{name}.{field}"]
            assert shown_number(text) == pytest.approx(values[field], abs=0.51 * 10**-places), (name, field, text)
        assert shown_number(dom.cells[f"{name}.a_better"]) == pytest.approx(100 * values["a_better"], abs=0.51)
        assert int(dom.cells[f"{name}.documents"]) == values["documents"]
    lines = [line for side in ("a_loses", "b_loses") for e in data["tasks"].values() for line in e["top_lines"][side]]
    assert len(dom.lines) == len(lines) > 0
    for spans, line in zip(dom.lines, lines):
        assert [level for level, _ in spans] == [s["level"] for s in line["segments"]]
        assert "".join(text for _, text in spans) == line["text"]
    coloured = sum(1 for spans in dom.lines for level, _ in spans if level)
    assert coloured == sum(1 for line in lines for s in line["segments"] if s["level"]) > 0
    assert dom.images and all(src.startswith("data:image/png;base64,") for src in dom.images)
    assert not re.search(r"(src|href)=\"(https?:|//)", page.read_text())


def test_the_console_check_sees_a_blocked_load(tmp_path):
    """The control: the page's security policy blocks a remote image, and the browser logs it."""
    page = tmp_path / "remote.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        '</head><body><img src="http://203.0.113.1/x.png"></body></html>'
    )
    proc = browse(page, tmp_path, "--dump-dom")
    assert proc.returncode == 0
    assert console(proc.stderr), proc.stderr[-2000:]


def test_a_screenshot_of_the_page(compared, tmp_path):
    shot = tmp_path / "page.png"
    proc = browse(compared["out"] / "compare.html", tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
