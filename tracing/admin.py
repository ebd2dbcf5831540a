from django.contrib import admin

from .attempt_spans import sync_pending
from .models import Span, Trace


@admin.register(Trace)
class TraceAdmin(admin.ModelAdmin):
    list_display = ("trace_id", "run", "status", "duration_s", "span_count", "sampler", "sampled", "started_at")
    list_filter = ("status", "sampler", "sampled")
    search_fields = ("trace_id",)
    readonly_fields = [f.name for f in Trace._meta.fields]
    exclude = ("token_hash",)


@admin.register(Span)
class SpanAdmin(admin.ModelAdmin):
    list_display = ("name", "span_id", "trace", "status", "duration_us", "source")
    list_filter = ("status", "source")
    search_fields = ("span_id", "name")
    raw_id_fields = ("trace", "taskrun")

    def get_queryset(self, request):
        sync_pending()  # attempt spans are stored when first read (tracing.attempt_spans)
        return super().get_queryset(request)
