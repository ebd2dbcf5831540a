"""Saving a workflow file: the workflow, and a new version of it when its source changed; a run
extension may refuse a user (a secret provider's scope)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .engine.spec import WorkflowSpec
from .extensions import save_refusal
from .models import Workflow, WorkflowVersion


class SaveRefused(ValueError):
    """A run extension refused to let this user save this workflow (a secret provider's scope)."""


def save_workflow(
    source: str, *, fmt: str, spec: WorkflowSpec, user: Any = None, base_dir: str | None = None
) -> Workflow:
    """Create the workflow named in the spec, or add a version when its source changed.
    With a user (the UI, the API), raises SaveRefused if a run extension refuses them."""
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().filter(name=spec.name).first()
        if workflow is None:
            _check_save(None, spec, user)
            workflow = Workflow.objects.create(
                name=spec.name, description=spec.description, source=source, format=fmt,
                base_dir=base_dir or "", tags=spec.tags, schedule=spec.schedule or "", created_by=user,
            )  # fmt: skip
            WorkflowVersion.objects.create(workflow=workflow, version=1, source=source, format=fmt, created_by=user)
            return workflow
        update_workflow(workflow, source, fmt=fmt, spec=spec, user=user, base_dir=base_dir)
        return workflow


def _check_save(workflow: Workflow | None, spec: WorkflowSpec, user: Any) -> None:
    if user is not None:  # none: a command run on the server by whoever may run commands there
        reason = save_refusal(workflow, spec, user)
        if reason:
            raise SaveRefused(reason)


def update_workflow(
    workflow: Workflow, source: str, *, fmt: str, spec: WorkflowSpec, user: Any = None, base_dir: str | None = None
) -> Workflow:
    _check_save(workflow, spec, user)
    changed = source != workflow.source or fmt != workflow.format
    workflow.description = spec.description
    workflow.tags = spec.tags
    workflow.schedule = spec.schedule or ""
    if base_dir is not None:
        workflow.base_dir = base_dir
    if spec.name != workflow.name:
        workflow.name = spec.name
    if changed:
        workflow.source, workflow.format = source, fmt
        workflow.version += 1
        WorkflowVersion.objects.create(
            workflow=workflow, version=workflow.version, source=source, format=fmt, created_by=user
        )
    workflow.save()
    return workflow
