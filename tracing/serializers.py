"""API shapes of traces and spans (and of a Zipkin v2 span, for the schema of /api/v2/spans)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .attempt_spans import sync
from .models import Span, Trace


class SpanSerializer(serializers.ModelSerializer):
    trace_id = serializers.CharField(source="trace.trace_id", read_only=True)

    class Meta:
        model = Span
        fields = [
            "id", "trace_id", "span_id", "parent_id", "name", "kind", "service", "source", "start_us",
            "duration_us", "status", "status_message", "attributes", "events", "taskrun", "attempt",
        ]  # fmt: skip


class TraceListSerializer(serializers.ModelSerializer):
    run_number = serializers.IntegerField(source="run.number", read_only=True)
    workflow = serializers.CharField(source="run.workflow.name", read_only=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Trace
        fields = [
            "trace_id", "run", "run_number", "workflow", "status", "started_at", "ended_at", "duration_s",
            "span_count", "error_count", "sampler", "sampled", "decision", "url",
        ]  # fmt: skip


class TraceDetailSerializer(TraceListSerializer):
    spans = serializers.SerializerMethodField()

    class Meta(TraceListSerializer.Meta):
        fields = [*TraceListSerializer.Meta.fields, "root_span_id", "spans"]

    @extend_schema_field(SpanSerializer(many=True))
    def get_spans(self, trace: Trace) -> list[dict]:
        sync(trace)  # its attempt spans are stored when first read
        spans = trace.spans.select_related("trace").order_by("start_us", "id")
        return SpanSerializer(spans, many=True).data


class CompareRowSerializer(serializers.Serializer):
    name = serializers.CharField()
    attempt = serializers.IntegerField(allow_null=True)
    a = serializers.CharField(allow_null=True, help_text="Span id in trace a.")
    b = serializers.CharField(allow_null=True, help_text="Span id in trace b.")
    a_us = serializers.IntegerField(allow_null=True)
    b_us = serializers.IntegerField(allow_null=True)
    delta_us = serializers.IntegerField(allow_null=True, help_text="b - a, in microseconds.")
    ratio = serializers.FloatField(allow_null=True, help_text="b / a.")
    a_status = serializers.CharField(allow_null=True)
    b_status = serializers.CharField(allow_null=True)


class CompareSerializer(serializers.Serializer):
    a = TraceListSerializer()
    b = TraceListSerializer()
    spans = CompareRowSerializer(many=True)


class ZipkinEndpointSerializer(serializers.Serializer):
    serviceName = serializers.CharField(required=False)  # noqa: N815 (Zipkin's field names)
    ipv4 = serializers.CharField(required=False)
    port = serializers.IntegerField(required=False)


class ZipkinAnnotationSerializer(serializers.Serializer):
    timestamp = serializers.IntegerField(help_text="Unix microseconds.")
    value = serializers.CharField()


class ZipkinSpanSerializer(serializers.Serializer):
    """A Zipkin v2 span (for the schema; the view validates with tracing.otel.zipkin)."""

    traceId = serializers.CharField(help_text="This run's trace id (TRACEPARENT), 32 hex digits.")  # noqa: N815
    id = serializers.CharField(help_text="16 hex digits.")
    parentId = serializers.CharField(required=False)  # noqa: N815
    name = serializers.CharField(required=False)
    kind = serializers.CharField(required=False, help_text="CLIENT, SERVER, PRODUCER or CONSUMER; none: internal.")
    timestamp = serializers.IntegerField(help_text="Start, Unix microseconds.")
    duration = serializers.IntegerField(required=False, help_text="Microseconds.")
    localEndpoint = ZipkinEndpointSerializer(required=False)  # noqa: N815
    tags = serializers.DictField(child=serializers.CharField(), required=False)
    annotations = ZipkinAnnotationSerializer(many=True, required=False)


class AcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="How many spans were stored.")
