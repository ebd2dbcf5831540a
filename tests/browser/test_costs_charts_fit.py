"""The costs page's SVG charts keep every label inside the chart, however wide the amounts get
(the by-day axis once cut "$1,234,567.89" at the left edge)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from .conftest import ROOT

OUTSIDE = """() => [...document.querySelectorAll('svg.chart')].flatMap((svg) => {
  const box = svg.viewBox.baseVal;
  return [...svg.querySelectorAll('text')].map((t) => [t.textContent, t.getBBox()])
    .filter(([, b]) => b.x < 0 || b.y < 0 || b.x + b.width > box.width || b.y + b.height > box.height)
    .map(([text, b]) => `${svg.getAttribute('aria-label')}: "${text}" at x ${Math.round(b.x)}..${Math.round(b.x + b.width)}`);
})"""


@pytest.mark.parametrize("top", [1234567.89, 0.00001234, 0.42])
def test_no_chart_label_is_cut_at_the_edge(page, top):
    from costs import charts

    days = [{"key": date(2026, 3, 1) + timedelta(days=i), "total": top * (i % 3) / 2, "unpriced": i % 4, "records": 4}
            for i in range(30)]  # fmt: skip
    rows = [{"key": "a-workflow-with-a-long-name", "total": top, "unpriced": 12345, "records": 99999},
            {"key": "web", "total": top / 3, "unpriced": 0, "records": 3},
            {"key": "ghost", "total": 0.0, "unpriced": 2, "records": 2}]  # fmt: skip
    points = [{"number": i, "total": top * (i % 2), "unpriced": i % 3, "records": 3} for i in range(6)]
    css = Path(ROOT / "static/css/app.css").read_text()
    body = charts.columns(days) + charts.bars(rows, title="Cost by workflow") + charts.trend(points, [False] * 6)
    page.set_content(
        f"<!doctype html><html><head><style>{css}</style></head><body class='costs-page'>{body}</body></html>"
    )
    assert page.evaluate(OUTSIDE) == []
