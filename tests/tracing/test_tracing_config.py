"""Configuration: the standard OTEL_* variables, our TRACING_* ones, settings and a workflow's section."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tracing.otel.config import ConfigError, TailPolicy, for_workflow, from_env


def test_nothing_set_means_no_exporter_and_every_trace_kept():
    config = from_env({})
    assert config.exporters == () and config.sampling.sampler == "always_on" and config.store == "all"


def test_exporters_come_from_otel_traces_exporter():
    assert from_env({"OTEL_TRACES_EXPORTER": "zipkin, otlp,console"}).exporters == ("zipkin", "otlp", "console")
    assert from_env({"OTEL_TRACES_EXPORTER": "none"}).exporters == ()


def test_the_sdk_switch_turns_export_off():
    assert from_env({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}).exporters == ()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "Jaeger takes OTLP: use otlp"),
        ({"OTEL_TRACES_EXPORTER": "datadog"}, "unknown exporter 'datadog'"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "only http/protobuf"),
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "unknown sampler 'sometimes'"),
        ({"OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG: must be between 0 and 1"),
        ({"TRACING_TAIL_SLOWER_THAN_USUAL": "0.5"}, "TRACING_TAIL.slower_than_usual: must be at least 1"),
        ({"TRACING_STORE": "some"}, "TRACING_STORE: must be all or sampled"),
    ],
)
def test_a_bad_value_names_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        from_env(env)


def test_standard_sampler_names_map_to_ours():
    assert (
        from_env({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.2"}).sampling.ratio
        == 0.2
    )
    assert from_env({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}).sampling.sampler == "ratio"
    assert from_env({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}).sampling.sampler == "always_off"


def test_tail_rules_come_from_tracing_tail_variables():
    config = from_env(
        {"OTEL_TRACES_SAMPLER": "tail", "TRACING_TAIL_SLOWER_THAN": "30", "TRACING_TAIL_TAGS": "team=data,release",
         "TRACING_TAIL_RETRIED": "false"}
    )  # fmt: skip
    assert config.sampling.effective_ratio == 0.1  # the tail sampler's share for the rest, unless given
    assert config.sampling.tail == TailPolicy(
        slower_than_s=30.0, retried=False, tags=(("team", "data"), ("release", "*"))
    )


def test_the_tracing_setting_wins_over_the_environment():
    config = from_env({"OTEL_TRACES_SAMPLER": "always_on"}, {"sampler": "tail", "ratio": 0.3, "exporters": ["console"]})
    assert (config.sampling.sampler, config.sampling.ratio, config.exporters) == ("tail", 0.3, ("console",))


def test_a_workflow_section_overrides_sampling_for_its_runs():
    base = from_env({"OTEL_TRACES_SAMPLER": "always_on", "TRACING_TAIL_SLOWER_THAN": "60"})
    config = for_workflow(
        base, {"sampler": "tail", "ratio": 0.05, "tail": {"failed": False}, "attributes": {"owner": "data-team"}}
    )
    assert config.sampling.sampler == "tail" and config.sampling.ratio == 0.05
    assert config.sampling.tail == TailPolicy(slower_than_s=60.0, failed=False)  # the rest stays global
    assert config.attributes == (("owner", "data-team"),)


def test_a_workflow_can_turn_tracing_off():
    assert not for_workflow(from_env({}), {"enabled": False}).enabled


def test_manage_py_check_reports_a_bad_setting(db, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger")
    with pytest.raises(SystemCheckError, match="tracing.E001"):
        call_command("check")


def test_from_env_reads_only_the_variables_the_cache_watches():
    """The process's configuration is kept until a variable it reads changes: every variable
    from_env reads must be one of ENV_KEYS, or a change of it would go unseen."""
    from tracing.otel.config import ENV_KEYS

    class Reads(dict):
        seen: set[str] = set()

        def get(self, key, default=None):
            self.seen.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            self.seen.add(key)
            return super().__getitem__(key)

    values = Reads({key: "" for key in ENV_KEYS})
    from_env(values)
    assert Reads.seen and Reads.seen <= set(ENV_KEYS)


def test_the_global_configuration_follows_the_environment_and_the_setting(monkeypatch, settings):
    from tracing.telemetry import global_config

    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    assert global_config().sampling.sampler == "always_off"
    assert global_config() is global_config()  # kept while nothing changed
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    assert (global_config().sampling.sampler, global_config().sampling.ratio) == ("ratio", 0.25)
    settings.TRACING = {"sampler": "tail"}
    assert global_config().sampling.sampler == "tail"
    monkeypatch.setenv("TRACING_STORE", "nowhere")
    with pytest.raises(ConfigError, match="TRACING_STORE"):
        global_config()
