"""What the REST API reads and writes: workflows, runs, task runs, attempts and log lines."""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .engine.spec import SpecError, WorkflowInvalid
from .models import Run, TaskAttempt, TaskRun, Workflow, WorkflowVersion

MAX_SOURCE_CHARS = 1_000_000
FORMATS = Workflow._meta.get_field("format").choices
STREAM_NAMES = {"o": "stdout", "e": "stderr", "s": "system"}


# ------------------------------------------------------------------ errors (for the schema)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in one sentence.")


class SpecErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True, help_text="1-based line in the source, when known.")
    field = serializers.CharField(help_text="Dotted path of the field, e.g. tasks.load.needs.")
    message = serializers.CharField()


class InvalidWorkflowSerializer(ErrorSerializer):
    errors = SpecErrorSerializer(many=True)


def spec_errors(errors: list[SpecError]) -> list[dict[str, Any]]:
    return [{"line": e.line, "field": e.field, "message": e.message} for e in errors]


def invalid_summary(exc: WorkflowInvalid) -> str:
    if not exc.errors:
        return "the workflow is invalid"
    more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
    return f"the workflow is invalid: {exc.errors[0]}{more}"


# ------------------------------------------------------------------ auth


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send it as "Authorization: Token <token>".')


# ------------------------------------------------------------------ workflows


class RunSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Run
        fields = ["id", "number", "status", "trigger", "created_at", "started_at", "finished_at"]


class ParamSerializer(serializers.Serializer):
    name = serializers.CharField()
    default = serializers.JSONField(allow_null=True)
    description = serializers.CharField()
    required = serializers.BooleanField()
    choices = serializers.ListField(child=serializers.JSONField(), allow_null=True)


class WorkflowListSerializer(serializers.ModelSerializer):
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = Workflow
        fields = ["id", "name", "description", "version", "tags", "schedule", "created_at", "updated_at", "last_run"]

    @extend_schema_field(RunSummarySerializer(allow_null=True))
    def get_last_run(self, workflow: Workflow) -> dict[str, Any] | None:
        # The view attaches `last_run` (one query for the whole page); fall back for a lone object.
        run = workflow.last_run if hasattr(workflow, "last_run") else workflow.runs.first()
        return RunSummarySerializer(run).data if run is not None else None


class WorkflowDetailSerializer(WorkflowListSerializer):
    created_by = serializers.CharField(source="created_by.username", allow_null=True, read_only=True)
    params = serializers.SerializerMethodField()
    tasks = serializers.SerializerMethodField()

    class Meta(WorkflowListSerializer.Meta):
        fields = [*WorkflowListSerializer.Meta.fields, "format", "base_dir", "created_by", "source", "params", "tasks"]

    @extend_schema_field(ParamSerializer(many=True))
    def get_params(self, workflow: Workflow) -> list[dict[str, Any]]:
        spec = _spec_or_none(workflow)
        if spec is None:
            return []
        return [
            {"name": p.name, "default": p.default, "description": p.description, "required": p.required,
             "choices": p.choices}
            for p in spec.params.values()
        ]  # fmt: skip

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tasks(self, workflow: Workflow) -> list[str]:
        spec = _spec_or_none(workflow)
        return list(spec.tasks) if spec is not None else []


def _spec_or_none(workflow: Workflow):
    try:
        return workflow.spec()
    except WorkflowInvalid:
        return None  # stored by an older, more lenient version of the parser


class WorkflowWriteSerializer(serializers.Serializer):
    source = serializers.CharField(max_length=MAX_SOURCE_CHARS, trim_whitespace=False, help_text="The workflow file.")
    format = serializers.ChoiceField(
        choices=FORMATS, required=False, help_text="Detected from the source when left out."
    )
    base_dir = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text="Absolute directory the tasks run in; blank for the workflow's own workspace.",
    )

    def validate_base_dir(self, value: str) -> str:
        if value and not PurePosixPath(value).is_absolute():
            raise serializers.ValidationError("must be an absolute path")
        return value


class ValidateSerializer(serializers.Serializer):
    source = serializers.CharField(max_length=MAX_SOURCE_CHARS, trim_whitespace=False)
    format = serializers.ChoiceField(choices=FORMATS, required=False)


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = SpecErrorSerializer(many=True)


class WorkflowVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", allow_null=True, read_only=True)

    class Meta:
        model = WorkflowVersion
        fields = ["version", "format", "created_by", "created_at", "source"]


class TriggerSerializer(serializers.Serializer):
    params = serializers.DictField(
        child=serializers.JSONField(), required=False, default=dict, help_text="Values for the declared params."
    )


# ------------------------------------------------------------------ runs


class RunListSerializer(serializers.ModelSerializer):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    triggered_by = serializers.CharField(source="triggered_by.username", allow_null=True, read_only=True)
    duration = serializers.FloatField(allow_null=True, read_only=True, help_text="Seconds, so far if still running.")

    class Meta:
        model = Run
        fields = [
            "id", "workflow", "workflow_name", "number", "status", "trigger", "triggered_by", "rerun_of",
            "created_at", "started_at", "finished_at", "duration", "message", "last_seq",
        ]  # fmt: skip
        extra_kwargs = {"last_seq": {"help_text": "Sequence number of the run's latest live event."}}


class TaskRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskRun
        fields = [
            "id", "node_id", "task_id", "leg", "status", "attempts", "exit_code", "reason", "outputs",
            "started_at", "finished_at", "wall_s", "cpu_s", "peak_rss_bytes", "reused",
        ]  # fmt: skip


class RunDetailSerializer(RunListSerializer):
    workflow_version = serializers.IntegerField(source="workflow_version.version", read_only=True)
    tasks = TaskRunSerializer(many=True, read_only=True)
    counts = serializers.SerializerMethodField()

    class Meta(RunListSerializer.Meta):
        fields = [
            *RunListSerializer.Meta.fields,
            "workflow_version", "params", "tags", "cancel_requested", "counts", "tasks",
        ]  # fmt: skip

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_counts(self, run: Run) -> dict[str, int]:
        return dict(Counter(task.status for task in run.tasks.all()))


class RerunSerializer(serializers.Serializer):
    failed_only = serializers.BooleanField(
        default=False, help_text="Re-run only what did not succeed (and what depends on it); reuse the rest."
    )


# ------------------------------------------------------------------ task runs and logs


class TaskAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskAttempt
        fields = [
            "number", "status", "command", "ready_at", "started_at", "finished_at", "exit_code", "signal",
            "wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "error", "retry_delay",
        ]  # fmt: skip


class TaskRunDetailSerializer(TaskRunSerializer):
    run_number = serializers.IntegerField(source="run.number", read_only=True)
    workflow_name = serializers.CharField(source="run.workflow.name", read_only=True)
    attempts = TaskAttemptSerializer(source="attempt_set", many=True, read_only=True)

    class Meta(TaskRunSerializer.Meta):
        fields = ["id", "run", "run_number", "workflow_name", *TaskRunSerializer.Meta.fields[1:], "command"]


class LogLineSerializer(serializers.Serializer):
    lineno = serializers.IntegerField()
    stream = serializers.ChoiceField(choices=list(STREAM_NAMES.values()))
    ts = serializers.FloatField(help_text="Unix time the line was read.")
    text = serializers.CharField()


class LogPageSerializer(serializers.Serializer):
    attempt = serializers.IntegerField()
    lines = LogLineSerializer(many=True)
    next_after = serializers.IntegerField(
        allow_null=True,
        help_text="Pass as `after` to get the next lines; null once the attempt has ended and every line was sent.",
    )
