"""Head samplers decide when a run starts, with the OpenTelemetry SDK's own samplers."""

from __future__ import annotations

from tracing.otel.config import Sampling
from tracing.otel.sampling import head_decision

LOW = "00000000000000000000000000000001"
HIGH = "0000000000000000ffffffffffffffff"


def test_always_on_keeps_and_always_off_drops():
    assert head_decision(Sampling("always_on"), HIGH).sampled
    assert not head_decision(Sampling("always_off"), LOW).sampled


def test_the_parent_based_ratio_decides_on_the_trace_id():
    assert head_decision(Sampling("ratio", 0.5), LOW).sampled
    assert not head_decision(Sampling("ratio", 0.5), HIGH).sampled
    assert head_decision(Sampling("ratio", 0.5), LOW).reason == "ratio 0.5"


def test_a_ratio_without_an_argument_keeps_everything_as_in_opentelemetry():
    assert head_decision(Sampling("ratio"), HIGH).sampled


def test_the_tail_sampler_leaves_the_decision_to_the_end_of_the_run():
    assert head_decision(Sampling("tail"), LOW) is None
