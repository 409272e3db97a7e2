"""The comparison as one self-contained HTML page: no script, nothing fetched (the figures are inline PNG
data and a content security policy forbids every other load), so it opens offline in any browser.

Every number cell carries ``data-key`` (``<task>.<field>``) and every coloured run of characters is one
``<span data-level>``, so a test can check the page against the JSON it was made from.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from .markdown import shown

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
pre { white-space: pre-wrap; word-break: break-all; margin: 0.2em 0 1em; padding: 4px; border: 1px solid #eee; }
.meta { color: #555; font-size: 12px; }
.legend span { display: inline-block; min-width: 4.2em; text-align: center; font-size: 11px; }
img { max-width: 100%; }
"""
SUMMARY = (
    ("documents", "documents", "{:d}"),
    ("bpc_a", "bpc A", "{:.4f}"),
    ("bpc_b", "bpc B", "{:.4f}"),
    ("difference", "A − B", "{:+.4f}"),
    ("stderr", "paired se", "{:.4f}"),
    ("low", "95 % low", "{:+.4f}"),
    ("high", "95 % high", "{:+.4f}"),
    ("unpaired_stderr", "unpaired se", "{:.4f}"),
    ("error_ratio", "unpaired / paired", "{:.1f}"),
    ("a_better", "A better on", "{:.0%}"),
)


def colour(level: int, levels: int) -> str:
    """White at 0; towards red where A spends more bits, towards blue where B does."""
    share = abs(level) / levels
    fade = round(255 * (1 - 0.75 * share))
    return f"rgb(255,{fade},{fade})" if level > 0 else f"rgb({fade},{fade},255)"


def summary_table(comparison: dict) -> str:
    head = "<tr><th>task</th>" + "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in SUMMARY) + "</tr>"
    rows = [(task, entry["paired"]) for task, entry in comparison["tasks"].items()]
    if comparison.get("mean"):
        rows.append(("mean", comparison["mean"]))
    body = []
    for name, values in rows:
        cells = "".join(
            f'<td data-key="{html.escape(name)}.{key}">{shown(values[key], template)}</td>'
            for key, _, template in SUMMARY
        )
        body.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def group_tables(comparison: dict) -> str:
    parts = []
    for task, entry in comparison["tasks"].items():
        if not entry.get("groups"):
            continue
        head = "<tr><th>" + html.escape(entry["group_by"]) + "</th>"
        head += "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in SUMMARY) + "</tr>"
        rows = "".join(
            f"<tr><td>{html.escape(value)}</td>"
            + "".join(f"<td>{shown(values[key], template)}</td>" for key, _, template in SUMMARY)
            + "</tr>"
            for value, values in entry["groups"].items()
        )
        parts.append(f"<h3>{html.escape(task)} by {html.escape(entry['group_by'])}</h3><table>{head}{rows}</table>")
    return "".join(parts)


def image(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def legend(scale: float, levels: int) -> str:
    cells = "".join(
        f'<span style="background:{colour(k, levels)}">{k * scale / levels:+.2f}</span>'
        for k in range(-levels, levels + 1)
    )
    return f'<p class="legend">bits per character, A − B: {cells}</p>'


def line_block(task: str, line: dict, levels: int) -> str:
    text = line["text"]
    spans = "".join(
        f'<span data-level="{s["level"]}" style="background:{colour(s["level"], levels)}">'
        f"{html.escape(text[s['start'] : s['end']])}</span>"
        if s["level"]
        else f'<span data-level="0">{html.escape(text[s["start"] : s["end"]])}</span>'
        for s in line["segments"]
    )
    meta = (
        f"{html.escape(task)} · document {line['doc_id']} · line {line['line']} · {line['chars']} characters · "
        f"bits A {line['bits_a']:.1f} · bits B {line['bits_b']:.1f} · A − B {line['excess_bits']:+.1f} bits"
    )
    return f'<div class="line" data-task="{html.escape(task)}"><div class="meta">{meta}</div><pre>{spans}</pre></div>'


def lines_section(comparison: dict) -> str:
    levels = comparison["colour"]["levels"]
    out = [legend(comparison["colour"]["scale_bits"], levels)]
    titles = {"a_loses": "where A loses most to B", "b_loses": "where B loses most to A"}
    for side, title in titles.items():
        out.append(f"<h3>Lines {title}</h3>")
        for task, entry in comparison["tasks"].items():
            for line in (entry.get("top_lines") or {}).get(side, []):
                out.append(line_block(task, line, levels))
    if not any("top_lines" in e for e in comparison["tasks"].values()):
        out.append("<p>No per-token records in one of the runs: run both with token_records for this view.</p>")
    return "".join(out)


def documents_section(comparison: dict) -> str:
    out = []
    for side, title in (("a_loses", "A loses most"), ("b_loses", "B loses most")):
        rows = "".join(
            f"<tr><td>{html.escape(task)}</td><td>{r['doc_id']}</td><td>{r['chars']:,}</td>"
            f"<td>{r['bpc_a']:.4f}</td><td>{r['bpc_b']:.4f}</td><td>{r['bpc_a'] - r['bpc_b']:+.4f}</td></tr>"
            for task, entry in comparison["tasks"].items()
            for r in entry["top_documents"][side]
        )
        head = "<tr><th>task</th><th>document</th><th>characters</th><th>bpc A</th><th>bpc B</th><th>A − B</th></tr>"
        out.append(f"<h3>Documents where {title}</h3><table>{head}{rows}</table>")
    return "".join(out)


def render(comparison: dict, figures: dict[str, Path]) -> str:
    """The page's HTML; ``figures`` maps a caption to a PNG file."""
    a, b = comparison["a"], comparison["b"]
    title = f"{a['label']} (A) vs {b['label']} (B)"
    images = "".join(
        f"<figure>{image(p, c)}<figcaption>{html.escape(c)}</figcaption></figure>" for c, p in figures.items()
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="meta">A: {html.escape(a["model"])} ({html.escape(a["folder"])})<br>'
        f"B: {html.escape(b['model'])} ({html.escape(b['folder'])})<br>"
        f"{html.escape(comparison['method']['difference'])}; {html.escape(comparison['method']['stderr'])}.</p>"
        f"<h2>Summary</h2>{summary_table(comparison)}{group_tables(comparison)}"
        f"<h2>Figures</h2>{images}<h2>Documents</h2>{documents_section(comparison)}"
        f"<h2>Lines, character by character</h2>{lines_section(comparison)}</body></html>"
    )
