"""Django admin for workflows and runs: a look under the hood for admins, not a second editor.

Workflows are created and edited on the dashboard (which validates the file and adds a
version); runs, task runs, attempts and log lines are written by the runner. So the admin
shows them, lets an admin delete them, and changes only the few fields that are safe to set
by hand.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import LogLine, Run, TaskAttempt, TaskRun, WorkerHeartbeat, Workflow, WorkflowVersion


class RecordAdmin(admin.ModelAdmin):
    """Rows the runner writes: nobody adds them here, and large tables skip the full count.

    raw_id_fields below keep any foreign key that becomes editable from rendering a <select>
    of every row in its table.
    """

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ViewOnlyAdmin(RecordAdmin):
    """Records of what happened: shown, deletable (a deleted run takes them along), never edited.

    Newest first by primary key: the models' own ordering sorts through joins on big tables.
    """

    ordering = ("-id",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WorkflowVersionInline(admin.StackedInline):
    model = WorkflowVersion
    fields = ("version", "format", "created_by", "created_at", "source")
    readonly_fields = fields
    extra = 0
    classes = ["collapse"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("created_by")


@admin.register(Workflow)
class WorkflowAdmin(RecordAdmin):
    list_display = ("name", "version", "schedule", "created_by", "updated_at")
    list_select_related = ("created_by",)
    search_fields = ("name", "description")
    # Source, version, tags and schedule come from the file: change them on the dashboard's
    # edit page, which validates the file and records a new version.
    readonly_fields = (
        "name", "description", "source", "format", "version", "tags", "schedule", "created_by", "created_at",
        "updated_at",
    )  # fmt: skip
    fields = (
        "name", "description", "base_dir", "version", "format", "schedule", "tags", "created_by", "created_at",
        "updated_at", "source",
    )  # fmt: skip
    inlines = [WorkflowVersionInline]


@admin.register(Run)
class RunAdmin(RecordAdmin):
    list_display = ("workflow", "number", "status", "trigger", "triggered_by", "created_at", "finished_at")
    list_filter = ("status", "trigger")
    list_select_related = ("workflow", "triggered_by")
    search_fields = ("workflow__name",)
    date_hierarchy = "created_at"
    raw_id_fields = ("workflow", "workflow_version", "triggered_by", "rerun_of")
    readonly_fields = (
        "workflow", "workflow_version", "number", "status", "trigger", "triggered_by", "params", "tags",
        "created_at", "started_at", "finished_at", "rerun_of",
        "last_seq", "cancel_requested", "worker", "heartbeat_at", "resumes",
    )  # fmt: skip


@admin.register(TaskRun)
class TaskRunAdmin(ViewOnlyAdmin):
    list_display = ("node_id", "run", "status", "attempts", "exit_code", "wall_s", "started_at")
    list_filter = ("status",)
    list_select_related = ("run__workflow",)
    search_fields = ("run__workflow__name", "node_id")
    raw_id_fields = ("run",)


@admin.register(TaskAttempt)
class TaskAttemptAdmin(ViewOnlyAdmin):
    list_display = ("taskrun", "number", "status", "exit_code", "wall_s", "peak_rss_bytes", "host", "started_at")
    list_filter = ("status",)
    list_select_related = ("taskrun__run__workflow",)
    search_fields = ("taskrun__run__workflow__name", "taskrun__node_id")
    raw_id_fields = ("taskrun",)


@admin.register(LogLine)
class LogLineAdmin(ViewOnlyAdmin):
    list_display = ("run", "node", "attempt", "lineno", "stream", "text")
    list_filter = ("stream",)
    list_select_related = ("run__workflow", "taskrun")
    search_fields = ("run__workflow__name", "taskrun__node_id")
    raw_id_fields = ("run", "taskrun")

    @admin.display(description="task", ordering="taskrun__node_id")
    def node(self, line: LogLine) -> str:
        return line.taskrun.node_id


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ViewOnlyAdmin):
    list_display = ("name", "host", "pid", "mode", "started_at", "seen_at")
    list_filter = ("mode", "host")
