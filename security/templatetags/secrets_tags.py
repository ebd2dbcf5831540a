"""The run page's secrets panel: which secrets the run's attempts read, and what it must say about them."""

from __future__ import annotations

from typing import Any

from django import template

from ..models import SecretNotice, SecretRead

register = template.Library()


@register.inclusion_tag("security/_secrets_panel_body.html", takes_context=True)
def secrets_panel(context: dict[str, Any], run: Any) -> dict[str, Any]:
    uses = any(task.secrets for task in run.spec().tasks.values())
    reads = SecretRead.objects.filter(run=run).select_related("taskrun") if uses else []
    notices = SecretNotice.objects.filter(run=run).select_related("taskrun") if uses else []
    return {"run": run, "uses": uses, "reads": reads, "notices": notices, "perms": context.get("perms")}
