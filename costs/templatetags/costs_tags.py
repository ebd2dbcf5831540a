"""Money as the costs pages show it: enough digits for a task that cost a millionth of a dollar, and
never a silent zero (an amount that leaves attempts out says how many)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


def usd(value: float | None) -> str:
    if value is None:
        return "unpriced"
    value = float(value)
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        return f"${value:.4f}"
    if abs(value) < 1e-8:
        return "<$0.00000001"
    return f"${value:.8f}".rstrip("0") if abs(value) < 1e-4 else f"${value:.6f}".rstrip("0")


register.filter("usd", usd)


def cost_text(total: float | None, unpriced: int | None = 0, records: int | None = None) -> str:
    """'$0.0123', '$0.0123 + 3 unpriced' (attempts with an unpriced part, not in the amount), or
    'unpriced' when nothing was priced. `records` (all attempts), when known, tells a priced $0 apart."""
    if not unpriced:
        return usd(total or 0)
    if not total and (records is None or unpriced >= records):
        return "unpriced"
    return f"{usd(total or 0)} + {unpriced} unpriced"


def attempts(count: int) -> str:
    return f"{count} attempt{'' if count == 1 else 's'}"


@register.filter
def cost(row: Mapping[str, Any] | None, field: str = "total") -> SafeString | str:
    """A roll-up row's amount with its unpriced mark. For field 'total' the counts are `unpriced` and
    `records` (or `attempts`); for another field, e.g. 'retries', `retries_unpriced` and `retries_records`."""
    row = row or {}
    prefix = "" if field == "total" else f"{field}_"
    unpriced = row.get(f"{prefix}unpriced") or 0
    records = row.get(f"{prefix}records", row.get(f"{prefix}attempts"))
    text = cost_text(row.get(field), unpriced, records)
    if not unpriced:
        return text
    if text == "unpriced":
        return format_html('<span class="cost-unpriced" title="{}, none priced">unpriced</span>', attempts(unpriced))
    amount, mark = text.split(" + ", 1)
    return format_html(
        '{} <span class="cost-unpriced" title="{} with an unpriced part: the amount is only what was priced">'
        "+ {}</span>",
        amount, attempts(unpriced), mark,
    )  # fmt: skip


@register.filter
def percent(value: float | None) -> str:
    return "" if value is None else f"{float(value):.0%}"


@register.inclusion_tag("costs/_run_panel_body.html")
def cost_panel(run: object) -> dict:
    """The run page's cost card: target, total, per-node breakdown (filled live), budget alerts, what-if."""
    from costs import catalogues
    from costs.api import run_what_if
    from costs.extension import CostExtension, target_for

    snapshot = CostExtension.snapshot(run.pk)  # type: ignore[attr-defined]
    target = snapshot["target"]
    if not target:
        chosen, origin = target_for(run.spec())  # type: ignore[attr-defined]
        target = {**(chosen.__dict__ if chosen else {}), "origin": origin}
    _catalogue, in_use = catalogues.current()
    final = run.is_final  # type: ignore[attr-defined]
    return {
        "run": run, "cost": snapshot, "target": target, "stale": catalogues.stale_sources(in_use),
        "what_if": run_what_if(run.pk, target) if final else [],  # type: ignore[attr-defined]
        "final": final,
    }  # fmt: skip
