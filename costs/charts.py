"""Server-rendered SVG charts for the costs page (no library, no CDN): bars, day columns, a trend line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .templatetags.costs_tags import usd


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bars(rows: Sequence[dict[str, Any]], *, label: str = "key", value: str = "total", width: int = 520,
         link: str | None = None, title: str = "") -> SafeString:  # fmt: skip
    """Horizontal bars, largest first, each labelled with its name and amount."""
    rows = [r for r in rows if (r.get(value) or 0) > 0][:12]
    if not rows:
        return mark_safe('<p class="muted">No costs in this period.</p>')
    bar_h, gap, label_w, value_w = 20, 6, 170, 90
    height = len(rows) * (bar_h + gap) + gap
    top = max(r[value] for r in rows)
    span = width - label_w - value_w
    out = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="{escape(title)}">']  # fmt: skip
    for i, row in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(1.0, span * row[value] / top)
        name = str(row.get(label) if row.get(label) not in (None, "") else "(none)")
        short = name if len(name) <= 24 else name[:23] + "…"
        text = f'<text class="label" x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(short)}</text>'
        if link and row.get(link):
            text = f'<a href="{escape(row[link])}">{text}</a>'
        out.append(
            f'<g class="bar"><title>{escape(name)}: {usd(row[value])}</title>{text}'
            f'<rect x="{label_w}" y="{y}" width="{_n(w)}" height="{bar_h}" rx="3"/>'
            f'<text class="value" x="{_n(label_w + w + 6)}" y="{y + 14}">{usd(row[value])}</text></g>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - labels went through escape()


def columns(rows: Sequence[dict[str, Any]], *, width: int = 720, height: int = 180) -> SafeString:
    """One column per day (oldest left), with the first, middle and last dates under them."""
    if not rows:
        return mark_safe('<p class="muted">No costs in this period.</p>')
    pad_l, pad_b, pad_t = 70, 22, 10
    top = max(r["total"] or 0 for r in rows) or 1.0
    slot = (width - pad_l) / len(rows)
    out = [f'<svg class="chart columns" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="Cost per day">',
           f'<text class="axis" x="{pad_l - 6}" y="{pad_t + 8}" text-anchor="end">{usd(top)}</text>',
           f'<text class="axis" x="{pad_l - 6}" y="{height - pad_b}" text-anchor="end">$0</text>',
           f'<line class="base" x1="{pad_l}" y1="{height - pad_b}" x2="{width}" y2="{height - pad_b}"/>']  # fmt: skip
    usable = height - pad_b - pad_t
    for i, row in enumerate(rows):
        h = max(1.0, usable * (row["total"] or 0) / top)
        x = pad_l + i * slot + slot * 0.15
        out.append(
            f'<rect class="col" x="{_n(x)}" y="{_n(height - pad_b - h)}" width="{_n(slot * 0.7)}" height="{_n(h)}">'
            f"<title>{row['key']}: {usd(row['total'])}</title></rect>"
        )
    for i in sorted({0, len(rows) // 2, len(rows) - 1}):
        x = pad_l + i * slot + slot / 2
        anchor = "end" if i == len(rows) - 1 and i else "middle"
        out.append(f'<text class="axis" x="{_n(x)}" y="{height - 6}" text-anchor="{anchor}">{rows[i]["key"]}</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - only numbers and dates


def trend(points: Sequence[dict[str, Any]], marks: Sequence[bool], *, width: int = 300, height: int = 60) -> SafeString:
    """A workflow's run totals as a line; regressions as red dots."""
    values = [p["total"] or 0.0 for p in points]
    if len(values) < 2:
        return mark_safe('<span class="muted">too few runs</span>')
    top = max(values) or 1.0
    step = (width - 8) / (len(values) - 1)
    xy = [(4 + i * step, height - 4 - (height - 8) * v / top) for i, v in enumerate(values)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{_n(x)} {_n(y)}" for i, (x, y) in enumerate(xy))
    out = [f'<svg class="chart trend" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="Run cost trend"><path d="{path}" fill="none"/>']  # fmt: skip
    for (x, y), point, marked in zip(xy, points, marks):
        cls = "dot regression" if marked else "dot"
        note = " — regression" if marked else ""
        out.append(
            f'<circle class="{cls}" cx="{_n(x)}" cy="{_n(y)}" r="{4 if marked else 2.5}">'
            f"<title>run #{point['number']}: {usd(point['total'])}{note}</title></circle>"
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - only numbers
