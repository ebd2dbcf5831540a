"""Money as the costs pages show it: enough digits for a task that cost a millionth of a dollar."""

from __future__ import annotations

from django import template

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
