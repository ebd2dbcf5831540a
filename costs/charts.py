"""Server-rendered SVG charts for the costs page (no library, no CDN): bars, day columns, a trend line.

Never a silent zero: an amount that leaves unpriced attempts out says so ("$0.0123 + 3 unpriced", or
"unpriced" when nothing was priced), in the chart and in its tooltip, and such rows are never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .templatetags.costs_tags import attempts, cost_text, usd

# Rough text widths (px per character at the chart's font sizes; digits are the widest glyphs),
# so labels get the room they need instead of being cut at the SVG's edge.
CHAR_W = {11: 7.0, 12: 7.6}


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _width(text: str, size: int = 12) -> float:
    return len(text) * CHAR_W[size]


def _amount(row: Mapping[str, Any], value: str = "total") -> tuple[str, str]:
    """The row's amount as text, and its state: '' (all priced), 'partial' or 'unpriced' (none priced)."""
    unpriced = row.get("unpriced") or 0
    text = cost_text(row.get(value), unpriced, row.get("records"))
    return text, ("unpriced" if text == "unpriced" else "partial" if unpriced else "")


def _tooltip(name: str, text: str, row: Mapping[str, Any]) -> str:
    detail = f" ({attempts(row['unpriced'])})" if text == "unpriced" else ""
    return escape(f"{name}: {text}{detail}")


def _value_svg(text: str, state: str) -> str:
    """The amount as SVG text content: the unpriced part in its own colour."""
    if state == "unpriced":
        return '<tspan class="unpriced">unpriced</tspan>'
    if state == "partial":
        amount, mark = text.split(" + ", 1)
        return f'{escape(amount)}<tspan class="unpriced"> + {escape(mark)}</tspan>'
    return escape(text)


def bars(rows: Sequence[dict[str, Any]], *, label: str = "key", value: str = "total", width: int = 520,
         link: str | None = None, title: str = "", limit: int = 12) -> SafeString:  # fmt: skip
    """Horizontal bars, largest first, each labelled with its name and amount; a row with nothing
    priced keeps its place (a stub bar, marked unpriced) instead of vanishing as a zero."""
    shown = [r for r in rows if (r.get(value) or 0) > 0 or r.get("unpriced")]
    rows, rest = shown[:limit], shown[limit:]
    if not rows:
        return mark_safe('<p class="muted">No costs in this period.</p>')
    amounts = [_amount(r, value) for r in rows]
    bar_h, gap, label_w = 20, 6, 170
    value_w = max(90, round(max(_width(text) for text, _ in amounts)) + 12)
    height = len(rows) * (bar_h + gap) + gap
    top = max(r.get(value) or 0 for r in rows) or 1.0
    span = width - label_w - value_w
    out = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="{escape(title)}">']  # fmt: skip
    for i, (row, (amount, state)) in enumerate(zip(rows, amounts)):
        y = gap + i * (bar_h + gap)
        w = max(1.0, span * (row.get(value) or 0) / top)
        name = str(row.get(label) if row.get(label) not in (None, "") else "(none)")
        short = name if len(name) <= 24 else name[:23] + "…"
        text = f'<text class="label" x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(short)}</text>'
        if link and row.get(link):
            text = f'<a href="{escape(row[link])}">{text}</a>'
        out.append(
            f'<g class="bar{" " + state if state else ""}"><title>{_tooltip(name, amount, row)}</title>{text}'
            f'<rect x="{label_w}" y="{y}" width="{_n(w)}" height="{bar_h}" rx="3"/>'
            f'<text class="value" x="{_n(label_w + w + 6)}" y="{y + 14}">{_value_svg(amount, state)}</text></g>'
        )
    out.append("</svg>")
    if rest:
        unpriced = sum(1 for r in rest if r.get("unpriced"))
        note = f", {unpriced} of them with unpriced attempts" if unpriced else ""
        out.append(f'<p class="muted chart-more">+ {len(rest)} more not shown{note}</p>')
    return mark_safe("".join(out))  # noqa: S308 - labels went through escape()


def columns(rows: Sequence[dict[str, Any]], *, width: int = 720, height: int = 180) -> SafeString:
    """One column per day (oldest left), with the first, middle and last dates under them; a day
    with unpriced attempts has a dot above its column (its column shows only what was priced)."""
    if not rows:
        return mark_safe('<p class="muted">No costs in this period.</p>')
    pad_b, pad_t = 22, 10
    top = max(r.get("total") or 0 for r in rows)
    top_label = usd(top) if top else ""
    pad_l = max(70, round(_width(top_label, 11)) + 12)  # the widest amount on the axis fits
    top = top or 1.0
    slot = (width - pad_l) / len(rows)
    out = [f'<svg class="chart columns" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="Cost per day">',
           f'<text class="axis" x="{pad_l - 6}" y="{pad_t + 8}" text-anchor="end">{top_label}</text>',
           f'<text class="axis" x="{pad_l - 6}" y="{height - pad_b}" text-anchor="end">$0</text>',
           f'<line class="base" x1="{pad_l}" y1="{height - pad_b}" x2="{width}" y2="{height - pad_b}"/>']  # fmt: skip
    usable = height - pad_b - pad_t
    marked = 0
    for i, row in enumerate(rows):
        h = max(1.0, usable * (row.get("total") or 0) / top)
        x = pad_l + i * slot + slot * 0.15
        amount, state = _amount(row)
        tip = f"<title>{_tooltip(str(row['key']), amount, row)}</title>"
        column = (f'<rect class="col" x="{_n(x)}" y="{_n(height - pad_b - h)}" width="{_n(slot * 0.7)}" '
                  f'height="{_n(h)}">{tip}</rect>')  # fmt: skip
        if state:
            marked += 1
            dot = (f'<circle class="unpriced" cx="{_n(x + slot * 0.35)}" cy="{_n(max(4.0, height - pad_b - h - 5))}" '
                   f'r="3">{tip}</circle>')  # fmt: skip
            column = f'<g class="day {state}">{column}{dot}</g>'
        out.append(column)
    for i in sorted({0, len(rows) // 2, len(rows) - 1}):
        x = pad_l + i * slot + slot / 2
        anchor = "end" if i == len(rows) - 1 and i else "middle"
        out.append(f'<text class="axis" x="{_n(x)}" y="{height - 6}" text-anchor="{anchor}">{rows[i]["key"]}</text>')
    out.append("</svg>")
    if marked:
        out.append(
            f'<p class="muted chart-legend"><span class="cost-unpriced">●</span> {marked} '
            f"day{'' if marked == 1 else 's'} with unpriced attempts: the column shows only what was priced</p>"
        )
    return mark_safe("".join(out))  # noqa: S308 - only numbers, dates and escaped text


def trend(points: Sequence[dict[str, Any]], marks: Sequence[bool], *, width: int = 300, height: int = 60) -> SafeString:
    """A workflow's run totals as a line; regressions as red dots; a run with unpriced attempts as a
    ring, and one with nothing priced as a ring on the base line, outside the line."""
    if len(points) < 2:
        return mark_safe('<span class="muted">too few runs</span>')
    amounts = [_amount(p) for p in points]
    values = [p.get("total") or 0.0 for p in points]
    top = max(values) or 1.0
    step = (width - 8) / (len(values) - 1)
    xy = [(4 + i * step, height - 4 - (height - 8) * v / top) for i, v in enumerate(values)]
    path, pen_down = [], False
    for (x, y), (_, state) in zip(xy, amounts):
        if state == "unpriced":  # no price is not $0: the line skips it
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{_n(x)} {_n(y)}")
        pen_down = True
    out = [f'<svg class="chart trend" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="Run cost trend"><path d="{" ".join(path)}" fill="none"/>']  # fmt: skip
    for (x, y), point, marked, (amount, state) in zip(xy, points, marks, amounts):
        cls = " ".join(["dot", *(["regression"] if marked else []), *([state] if state else [])])
        note = " — regression" if marked else ""
        name = f"run #{point['number']}"
        out.append(
            f'<circle class="{cls}" cx="{_n(x)}" cy="{_n(y)}" r="{4 if marked or state else 2.5}">'
            f"<title>{_tooltip(name, amount, point)}{note}</title></circle>"
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - only numbers and escaped text
