"""Recovery: who runs a run (worker identity and liveness) and the reaper that resumes runs
whose worker died.

A claim names host, pid and process start time, so a dead worker on this host is seen at once;
one on another host once its heartbeat is older than RUNNER_HEARTBEAT_TIMEOUT.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

import psutil
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .changes import commit_changes
from .models import Run, TaskAttempt, TaskRun, WorkerHeartbeat

log = logging.getLogger("runner")


# ------------------------------------------------------------------ identity of this process


def _process_start(pid: int) -> int | None:
    try:
        return int(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def worker_id() -> str:
    """host:pid:start — the start time tells a reused pid from the process that claimed a run."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"


def worker_is_dead(worker: str, heartbeat_at: Any, now: Any = None) -> bool:
    host, _, rest = worker.partition(":")
    pid_text, _, start = rest.partition(":")
    if host == socket.gethostname() and pid_text.isdigit():
        # Same host: we can look, no need to wait for the heartbeat to go stale.
        return str(_process_start(int(pid_text))) != start
    now = now or timezone.now()
    return heartbeat_at is None or heartbeat_at < now - timedelta(seconds=settings.RUNNER_HEARTBEAT_TIMEOUT)


# ------------------------------------------------------------------ recovery


def reap_orphans() -> list[int]:
    """Give runs whose worker died back to the queue; their lost attempts retry if allowed."""
    resumed = []
    now = timezone.now()
    for run in Run.objects.filter(status=Run.RUNNING).only("pk", "worker", "heartbeat_at"):
        if not worker_is_dead(run.worker, run.heartbeat_at, now):
            continue
        if _requeue_orphan(run.pk, run.worker, now):
            resumed.append(run.pk)
    for run_id in resumed:
        log.warning("run %s lost its worker; resuming it", run_id)
        from .runner import enqueue_run

        enqueue_run(run_id)
    return resumed


def _requeue_orphan(run_id: int, worker: str, now: Any) -> bool:
    with transaction.atomic():
        if not Run.objects.filter(pk=run_id, status=Run.RUNNING, worker=worker).update(status=Run.QUEUED, worker=""):
            return False
        run = Run.objects.select_related("workflow_version").get(pk=run_id)
        plan = run.plan()
        cancelled = run.cancel_requested
        lost = TaskAttempt.objects.filter(taskrun__run_id=run_id, status="running")
        for attempt in lost:
            _kill_orphan_group(attempt)
        lost.update(status="lost", finished_at=now, error="the worker running this attempt died")
        task_fields: dict[int, dict[str, Any]] = {}
        for task in run.tasks.filter(status__in=[TaskRun.RUNNING, TaskRun.RETRYING, TaskRun.PENDING]):
            retry = plan.nodes[task.node_id].task.retry
            if cancelled:
                task_fields[task.pk] = {
                    "status": TaskRun.CANCELLED,
                    "reason": run.message or "cancelled",
                    "finished_at": now,
                }
            elif task.status == TaskRun.PENDING:
                continue
            elif task.attempts >= retry.max_attempts:
                task_fields[task.pk] = {
                    "status": TaskRun.FAILED, "finished_at": now,
                    "reason": f"worker lost during attempt {task.attempts}; no attempts left",
                }  # fmt: skip
            else:
                task_fields[task.pk] = {
                    "status": TaskRun.PENDING,
                    "reason": f"worker lost during attempt {task.attempts}; will retry",
                }
        run_fields: dict[str, Any] = {"status": Run.QUEUED, "message": "resuming after its worker was lost"}
        if cancelled:
            run_fields = {"status": Run.CANCELLED, "finished_at": now, "message": run.message or "cancelled"}
        Run.objects.filter(pk=run_id).update(resumes=run.resumes + 1)
        commit_changes(run_id, task_fields=task_fields, run_fields=run_fields, to_run_list=True)
    return not cancelled


def _kill_orphan_group(attempt: TaskAttempt) -> None:
    """A dead worker's task processes live on in their own session: end them if they are ours."""
    if not attempt.pid or attempt.host != socket.gethostname():
        return
    try:
        proc = psutil.Process(attempt.pid)
        if proc.create_time() > attempt.started_at.timestamp() + 5 or os.getpgid(attempt.pid) != attempt.pid:
            return  # the pid was reused by something else
        os.killpg(attempt.pid, 9)
    except (psutil.Error, ProcessLookupError, PermissionError, OSError):
        pass


# ------------------------------------------------------------------ worker liveness


def beat_worker(mode: str) -> None:
    name = worker_id()
    WorkerHeartbeat.objects.update_or_create(
        name=name,
        defaults={"host": socket.gethostname(), "pid": os.getpid(), "mode": mode, "seen_at": timezone.now()},
    )


def forget_worker() -> None:
    WorkerHeartbeat.objects.filter(name=worker_id()).delete()


def consumer_alive() -> bool:
    """Is a Huey consumer running that will pick up what we enqueue?"""
    cutoff = timezone.now() - timedelta(seconds=max(15.0, settings.RUNNER_HEARTBEAT_SECONDS * 3))
    for beat in WorkerHeartbeat.objects.filter(seen_at__gte=cutoff):
        if beat.host != socket.gethostname() or not worker_is_dead(beat.name, beat.seen_at):
            return True
    return False
