"""Tracing configuration: global (OTEL_* and TRACING_* environment, settings) and per workflow.

Standard OpenTelemetry variables are used where they exist: OTEL_TRACES_EXPORTER,
OTEL_TRACES_SAMPLER(_ARG), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED and
each exporter's own (OTEL_EXPORTER_ZIPKIN_ENDPOINT, OTEL_EXPORTER_OTLP_*), read by the SDK.
What the standard has no name for (tail sampling, what to keep in the database) is TRACING_*.
A workflow's `tracing:` section overrides the sampling for its own runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

EXPORTERS = ("zipkin", "otlp", "console", "none")
# Our names, and the standard OTEL_TRACES_SAMPLER names they stand for. A run is always the
# root of its trace, so the parent-based samplers decide like their root samplers; the flag
# they set in TRACEPARENT is what makes a child script's spans follow that decision.
SAMPLERS = {
    "always_on": "always_on",
    "parentbased_always_on": "always_on",
    "always_off": "always_off",
    "parentbased_always_off": "always_off",
    "ratio": "ratio",
    "traceidratio": "ratio",
    "parentbased_traceidratio": "ratio",
    "tail": "tail",
}
STORE = ("all", "sampled")
DEFAULT_RATIO = {"ratio": 1.0, "tail": 0.1}  # OTel's traceidratio defaults to 1.0
TAIL_FIELDS = {"slower_than", "slower_than_usual", "failed", "retried", "tags"}
# The environment variables from_env reads (and the only ones it is given: see telemetry.global_config).
ENV_KEYS = (
    "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", *(f"TRACING_TAIL_{key.upper()}" for key in sorted(TAIL_FIELDS)),
    "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL",
    "TRACING_STORE", "TRACING_ENABLED",
)  # fmt: skip


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable or field."""


@dataclass(frozen=True)
class TailPolicy:
    """Which finished runs keep their trace, whatever the ratio says."""

    slower_than_s: float | None = None  # longer than this many seconds
    slower_than_usual: float | None = 2.0  # longer than this many times the workflow's median
    failed: bool = True
    retried: bool = True
    tags: tuple[tuple[str, str], ...] = ()  # (key, value); value "*" matches any value


@dataclass(frozen=True)
class Sampling:
    sampler: str = "always_on"  # always_on, always_off, ratio, tail
    ratio: float | None = None  # None: the sampler's default

    tail: TailPolicy = field(default_factory=TailPolicy)

    @property
    def effective_ratio(self) -> float:
        if self.ratio is not None:
            return self.ratio
        return DEFAULT_RATIO.get(self.sampler, 1.0)


@dataclass(frozen=True)
class TracingConfig:
    enabled: bool = True
    exporters: tuple[str, ...] = ()
    sampling: Sampling = field(default_factory=Sampling)
    store: str = "all"  # all: every run's spans stay in the database; sampled: only kept traces
    attributes: tuple[tuple[str, str], ...] = ()  # extra attributes on the run's root span

    @property
    def exporting(self) -> bool:
        return bool(self.exporters)


# ------------------------------------------------------------------ small parsers


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        return value.strip().lower() in ("1", "true", "yes", "on")
    raise ConfigError(f"{where}: must be true or false, not {value!r}")


def _number(value: Any, where: str, *, minimum: float = 0.0, maximum: float | None = None) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: must be a number, not {value!r}") from None
    if number != number or number < minimum or (maximum is not None and number > maximum):
        bounds = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"at least {minimum:g}"
        raise ConfigError(f"{where}: must be {bounds}, not {value!r}")
    return number


def _sampler(value: Any, where: str) -> str:
    name = str(value).strip().lower()
    if name not in SAMPLERS:
        raise ConfigError(f"{where}: unknown sampler {value!r} (use always_on, always_off, ratio or tail)")
    return SAMPLERS[name]


def _tags(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    """{team: data} or "team=data,env=*" or ["team=data"]."""
    if isinstance(value, Mapping):
        return tuple((str(k), _text(v)) for k, v in value.items())
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ConfigError(f"{where}: must be a mapping of tag names to values or a list of key=value")
    rules = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        key, sep, val = text.partition("=")
        if not key.strip():
            raise ConfigError(f"{where}: {text!r} is not key=value")
        rules.append((key.strip(), val.strip() if sep else "*"))
    return tuple(rules)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def exporters(value: Any, where: str = "OTEL_TRACES_EXPORTER") -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value or ())
    names = []
    for item in items:
        name = str(item).strip().lower()
        if not name:
            continue
        if name == "jaeger":
            raise ConfigError(f"{where}: the Jaeger exporter was removed upstream; Jaeger takes OTLP: use otlp")
        if name not in EXPORTERS:
            raise ConfigError(f"{where}: unknown exporter {name!r} (use {', '.join(EXPORTERS)})")
        if name != "none" and name not in names:
            names.append(name)
    return tuple(names)


def apply_tail(policy: TailPolicy, values: Mapping[str, Any], where: str) -> TailPolicy:
    changes: dict[str, Any] = {}
    for key, value in values.items():
        at = f"{where}.{key}"
        if key not in TAIL_FIELDS:
            raise ConfigError(f"{at}: unknown field (use {', '.join(sorted(TAIL_FIELDS))})")
        if key == "slower_than":
            changes["slower_than_s"] = None if value is None else _number(value, at)
        elif key == "slower_than_usual":
            changes["slower_than_usual"] = None if value is None else _number(value, at, minimum=1.0)
        elif key in ("failed", "retried"):
            changes[key] = _bool(value, at)
        else:
            changes["tags"] = _tags(value, at)
    return replace(policy, **changes)


def apply_sampling(sampling: Sampling, values: Mapping[str, Any], where: str) -> Sampling:
    """`sampler`, `ratio` and `tail` from a settings mapping or a workflow's tracing section."""
    if values.get("sampler") is not None:
        sampling = replace(sampling, sampler=_sampler(values["sampler"], f"{where}.sampler"))
    if values.get("ratio") is not None:
        sampling = replace(sampling, ratio=_number(values["ratio"], f"{where}.ratio", maximum=1.0))
    if values.get("tail") is not None:
        tail = values["tail"]
        if not isinstance(tail, Mapping):
            raise ConfigError(f"{where}.tail: must be a mapping")
        sampling = replace(sampling, tail=apply_tail(sampling.tail, tail, f"{where}.tail"))
    return sampling


# ------------------------------------------------------------------ global and per workflow


def from_env(env: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> TracingConfig:
    """The process-wide configuration; `overrides` (Django's TRACING setting) win over the environment."""
    sampling = Sampling()
    if env.get("OTEL_TRACES_SAMPLER", "").strip():
        sampling = replace(sampling, sampler=_sampler(env["OTEL_TRACES_SAMPLER"], "OTEL_TRACES_SAMPLER"))
    if env.get("OTEL_TRACES_SAMPLER_ARG", "").strip():
        sampling = replace(
            sampling, ratio=_number(env["OTEL_TRACES_SAMPLER_ARG"], "OTEL_TRACES_SAMPLER_ARG", maximum=1.0)
        )
    tail: dict[str, Any] = {}
    for key in TAIL_FIELDS:
        raw = env.get(f"TRACING_TAIL_{key.upper()}", "").strip()
        if raw:
            tail[key] = raw
    if tail:
        sampling = replace(sampling, tail=apply_tail(sampling.tail, tail, "TRACING_TAIL"))
    names = exporters(env.get("OTEL_TRACES_EXPORTER", "none"))
    if _bool(env.get("OTEL_SDK_DISABLED", "false"), "OTEL_SDK_DISABLED"):
        names = ()
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "").strip()
    if "otlp" in names and protocol and protocol != "http/protobuf":
        raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is supported, not {protocol!r}")
    store = env.get("TRACING_STORE", "all").strip().lower() or "all"
    config = TracingConfig(
        enabled=_bool(env.get("TRACING_ENABLED", "true"), "TRACING_ENABLED"),
        exporters=names,
        sampling=sampling,
        store=store,
    )
    config = apply_overrides(config, overrides or {})
    if config.store not in STORE:
        raise ConfigError(f"TRACING_STORE: must be all or sampled, not {config.store!r}")
    return config


def apply_overrides(config: TracingConfig, values: Mapping[str, Any]) -> TracingConfig:
    unknown = set(values) - {"enabled", "exporters", "sampler", "ratio", "tail", "store"}
    if unknown:
        raise ConfigError(f"TRACING: unknown setting {sorted(unknown)[0]!r}")
    if "enabled" in values:
        config = replace(config, enabled=_bool(values["enabled"], "TRACING.enabled"))
    if "exporters" in values:
        config = replace(config, exporters=exporters(values["exporters"], "TRACING.exporters"))
    if "store" in values:
        config = replace(config, store=str(values["store"]))
    return replace(config, sampling=apply_sampling(config.sampling, values, "TRACING"))


def for_workflow(config: TracingConfig, section: Mapping[str, Any] | None) -> TracingConfig:
    """A workflow's `tracing:` section (validated by the spec parser) over the global config."""
    if not section:
        return config
    if section.get("enabled") is not None:
        config = replace(config, enabled=_bool(section["enabled"], "tracing.enabled"))
    attributes = section.get("attributes") or {}
    if attributes:
        config = replace(config, attributes=tuple((str(k), _text(v)) for k, v in attributes.items()))
    return replace(config, sampling=apply_sampling(config.sampling, section, "tracing"))
