"""Run gates: before a workflow's tasks start, scan the files they execute and block on findings.

A gate blocks on an open or confirmed finding at or above its threshold (or an accepted risk
whose acceptance ran out); with `new_only: true`, only on findings the last successful run's
gate did not see. It fails closed: a scanner that cannot run stops the run too, and so does a
dependencies gate that found no requirements file to check.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from workflows.engine.dag import Plan
from workflows.engine.spec import WorkflowSpec
from workflows.extensions import RunExtension, Stop
from workflows.models import Run

from .ingest import expire_acceptances
from .models import Finding, FindingEvent, GateCheck, Scan
from .scanners import severity as sev
from .scanners.files import executed_files
from .scanning import default_manifests, scan_folder

GATE_NODE = "security:gate"  # not a valid task id, so it never clashes with one
GATE_TOOLS = {"code": ("bandit", "semgrep"), "secrets": ("detect-secrets",), "dependencies": ("osv",)}
DEFAULT_BLOCK_ON = {"code": sev.HIGH, "dependencies": sev.HIGH, "secrets": sev.INFO}
NODE_STATUS = {GateCheck.PENDING: "pending", GateCheck.RUNNING: "running", GateCheck.PASSED: "success",
               GateCheck.BLOCKED: "failed", GateCheck.ERROR: "failed"}  # fmt: skip
LISTED = 50  # blocking findings kept on the gate (the message names the first few)


@dataclass
class GateOutcome:
    status: str
    message: str
    scan: Scan | None = None
    gates: dict[str, Any] = field(default_factory=dict)
    blocking: list[dict[str, Any]] = field(default_factory=list)


def threshold(kind: str, config: dict[str, Any]) -> str | None:
    """The severity a gate blocks at, or None for a gate that only reports (`secrets: {block: false}`)."""
    if config.get("block_on"):
        return str(config["block_on"])
    if kind == "secrets" and config.get("block") is False:
        return None
    return DEFAULT_BLOCK_ON[kind]


def requirements_of(config: dict[str, Any], workdir: Path) -> list[str]:
    given = config.get("requirements")
    if given:
        return [given] if isinstance(given, str) else [str(g) for g in given]
    return default_manifests(workdir)


def gate_files(spec: WorkflowSpec, workdir: Path) -> list[str]:
    commands = []
    for task in spec.tasks.values():
        folder = task.working_directory or spec.working_directory or ""
        commands.append((task.run, workdir / folder))
    return executed_files(commands, workdir)


PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?")


def task_python(spec: WorkflowSpec, workdir: Path) -> str | None:
    """The interpreter the first task that runs Python calls (`python3 x.py`, `.venv/bin/python -m
    x`), found as its process would find it: on the task's PATH, or relative to its folder. The
    SBOM then lists the environment the tasks run in, not the server's."""
    for task in spec.tasks.values():
        try:
            words = shlex.split(task.run) if isinstance(task.run, str) else list(task.run)
        except ValueError:
            continue
        if not words or "${{" in words[0] or not PYTHON_NAME.fullmatch(os.path.basename(words[0])):
            continue
        folder = workdir / (task.working_directory or spec.working_directory or "")
        if "/" in words[0]:
            found = os.path.abspath(folder / words[0])  # not resolved: a virtualenv's python is a symlink
            return found if os.access(found, os.X_OK) else None
        path = {**spec.env, **task.env}.get("PATH") or os.environ.get("PATH", os.defpath)
        return shutil.which(words[0], path=path) if "${{" not in path else None
    return None


def baseline_ids(run: Run) -> set[int] | None:
    """Findings the last successful run's gate saw; None when no run of the workflow succeeded yet."""
    last = (
        Run.objects.filter(workflow_id=run.workflow_id, status=Run.SUCCESS, created_at__lt=run.created_at)
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None:
        return None
    scans = Scan.objects.filter(run=last, source="gate", status=Scan.DONE)
    if scans.exists():
        return set(Finding.objects.filter(occurrences__scan__in=scans).values_list("id", flat=True))
    moment = last.started_at or last.created_at
    return set(
        Finding.objects.filter(workflow_id=run.workflow_id, first_seen_at__lt=moment).values_list("id", flat=True)
    )


def evaluate(run: Run, spec: WorkflowSpec, scan: Scan) -> GateOutcome:
    events = expire_acceptances(scan.target, scan=scan)
    FindingEvent.objects.bulk_create(events)
    seen: QuerySet[Finding] = Finding.objects.filter(occurrences__scan=scan)
    failed = [e for e in scan.errors if e.get("level", "error") == "error"]
    gates: dict[str, Any] = {}
    blocking: list[Finding] = []
    problems: list[str] = []
    baseline = None
    for kind, config in spec.gates.items():
        tools = GATE_TOOLS[kind]
        broken = [e for e in failed if e["tool"] in tools]
        if broken and threshold(kind, config) is not None:
            problems += [f"{e['tool']}: {e['path'] + ': ' if e['path'] else ''}{e['message']}" for e in broken]
        elif kind == "dependencies" and not scan.manifests:  # no manifest read: nothing was checked
            problems.append(f"dependencies gate: no requirements file found in {scan.target.root} "
                            "(set gates.dependencies.requirements)")  # fmt: skip
        at = threshold(kind, config)
        found = seen.filter(tool__in=tools)
        hits = found.blocking().at_least(at) if at is not None else found.none()
        if config.get("new_only"):
            if baseline is None:
                baseline = baseline_ids(run) or set()
            hits = hits.exclude(pk__in=baseline)
        rows = list(hits.order_by("-severity_rank", "path", "line", "id")[: LISTED + 1])
        gates[kind] = {"block_on": at, "new_only": bool(config.get("new_only")), "seen": found.count(),
                       "blocking": hits.count()}  # fmt: skip
        blocking += [r for r in rows if r.pk not in {b.pk for b in blocking}]
    listed = [
        {"id": f.pk, "title": f.title, "severity": f.severity, "tool": f.tool, "rule": f.rule_id,
         "location": f.location, "state": f.state, "url": reverse("finding-detail", args=[f.pk])}
        for f in sorted(blocking, key=lambda f: (-f.severity_rank, f.path, f.line))[:LISTED]
    ]  # fmt: skip
    if problems:
        message = "security gate could not check everything: " + "; ".join(problems[:3])
        return GateOutcome(GateCheck.ERROR, message, scan, gates, listed)
    total = sum(g["blocking"] for g in gates.values())
    if total:
        named = ", ".join(f"{b['title']} at {b['location']} (finding #{b['id']})" for b in listed[:5])
        more = f" and {total - 5} more" if total > 5 else ""
        message = f"security gate blocked the run: {total} finding{'s' if total != 1 else ''}: {named}{more}"
        return GateOutcome(GateCheck.BLOCKED, message, scan, gates, listed)
    return GateOutcome(GateCheck.PASSED, f"security gate passed ({seen.count()} findings seen, none blocking)", scan,
                       gates, [])  # fmt: skip


def run_gate(run: Run, plan: Plan) -> GateOutcome:
    spec = plan.spec
    workdir = Path(run.workflow.workdir()).resolve()
    tools = [tool for kind in spec.gates for tool in GATE_TOOLS[kind]]
    manifests = requirements_of(spec.gates["dependencies"], workdir) if "dependencies" in spec.gates else []
    baseline = spec.gates.get("secrets", {}).get("baseline")
    scan = scan_folder(workdir, source="gate", tools=tools, files=gate_files(spec, workdir), manifests=manifests,
                       workflow=run.workflow, run=run, baseline=workdir / baseline if baseline else None,
                       sbom_python=task_python(spec, workdir))  # fmt: skip
    return evaluate(run, spec, scan)


class SecurityGate(RunExtension):
    """The `gates:` of a workflow, as a run extension: a node before the tasks, live on the run page."""

    name = "security"
    panel_template = "security/_gate_panel.html"
    script = "js/security_gate.js"

    def _publish(self, status: str, **fields: Any) -> None:
        run_id = self.run.pk
        values = {"status": status, **fields}

        def store() -> None:
            GateCheck.objects.update_or_create(run_id=run_id, defaults=values)

        event = {"kind": "gate", "node": GATE_NODE, "status": status, "message": fields.get("message", ""),
                 "blocking": fields.get("blocking", []), "gates": fields.get("gates", {}),
                 "scan": fields["scan"].pk if fields.get("scan") else None,
                 "scan_url": fields["scan"].get_absolute_url() if fields.get("scan") else ""}  # fmt: skip
        self.recorder.emit(event, store=store)

    def before_tasks(self) -> Stop | None:
        if not self.plan.spec.gates:
            return None
        self._publish(GateCheck.RUNNING, message="scanning the files the tasks execute", started_at=timezone.now())
        try:
            outcome = run_gate(self.run, self.plan)
        except Exception as exc:  # fail closed: a gate that cannot decide must not let the tasks run
            message = self.recorder.mask(f"security gate failed: {exc}")
            self._publish(GateCheck.ERROR, message=message, finished_at=timezone.now())
            return Stop(message, status="failed")
        message = self.recorder.mask(outcome.message)
        self._publish(outcome.status, message=message, scan=outcome.scan, gates=outcome.gates,
                      blocking=outcome.blocking, finished_at=timezone.now())  # fmt: skip
        if outcome.status != GateCheck.PASSED:
            return Stop(message, status="failed")
        return None

    @classmethod
    def snapshot(cls, run_id: int) -> Any:
        check = GateCheck.objects.filter(run_id=run_id).first()
        return check.as_event() if check is not None else None

    @classmethod
    def graph_nodes(cls, spec: WorkflowSpec, run_id: int | None = None) -> list[tuple[str, str, str]]:
        if not spec.gates:
            return []
        status = "pending"
        if run_id is not None:
            found = GateCheck.objects.filter(run_id=run_id).values_list("status", flat=True).first()
            status = NODE_STATUS.get(found or GateCheck.PENDING, "pending")
        return [(GATE_NODE, "security gate", status)]
