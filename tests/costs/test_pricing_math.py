"""Pricing an attempt, against figures worked out by hand (no Django)."""

from __future__ import annotations

import pytest

from costs.pricing.catalogue import Catalogue, PriceRow
from costs.pricing.model import GIB, Target, attempt_inputs, price, resolve_rates, shared_seconds, split_rates


@pytest.fixture
def catalogue() -> Catalogue:
    rows = [
        PriceRow("aws", "us-east-1", "m5.large", "instance", 0.096, "test", "2025-03-02", vcpu=2, memory_gib=8),
        PriceRow("aws", "*", "egress", "transfer", 0.09, "test", "2025-03-01"),
        PriceRow("aws", "*", "lambda", "serverless_requests", 0.20, "test", "2025-03-01"),
    ]
    return Catalogue([rows])


def test_opencost_split_of_m5_large():
    # weights: 2 vCPU x 0.031611 = 0.063222; 8 GiB x 0.004237 = 0.033896; sum 0.097118
    # vCPU rate = 0.096 x 0.063222 / 0.097118 / 2 = 0.0312471; GiB rate = 0.096 x 0.033896 / 0.097118 / 8 = 0.0041882
    cpu, ram = split_rates(0.096, 2, 8)
    assert cpu == pytest.approx(0.0312471, rel=1e-5)
    assert ram == pytest.approx(0.0041882, rel=1e-5)
    assert 2 * cpu + 8 * ram == pytest.approx(0.096)


def test_allocation_takes_the_larger_of_requested_and_used(catalogue):
    rates = resolve_rates(catalogue, Target("aws", "us-east-1", "m5.large", "allocation"))
    # half an hour, 900 s of CPU (0.5 vCPU used, 1 requested), 2 GiB peak (1 requested):
    # 1 x 0.5 h x 0.0312471 + 2 x 0.5 h x 0.0041882 = 0.0156236 + 0.0041882 = 0.0198118
    inputs = attempt_inputs(wall_s=1800, cpu_s=900, peak_rss_bytes=2 * GIB, requests={"cpu": 1, "memory_gib": 1})
    estimate = price(rates, inputs)
    assert estimate.amount == pytest.approx(0.0198118, rel=1e-5)
    assert [line.what for line in estimate.lines] == ["vCPU", "memory"]
    assert "max(1 requested, 0.5000 used) vCPU" in estimate.lines[0].formula


def test_instance_model_shares_the_hour_among_tasks_running_at_once(catalogue):
    # A runs 0-100 s, B 50-150 s: A alone 50 s, together 50 s halved = 75 s; 0.096 x 75 / 3600 = 0.002
    assert shared_seconds(0, 100, [(50, 150)]) == pytest.approx(75)
    assert shared_seconds(50, 150, [(0, 100)]) == pytest.approx(75)
    assert shared_seconds(0, 100, [(10, None)]) == pytest.approx(10 + 90 / 2)  # still running
    rates = resolve_rates(catalogue, Target("aws", "us-east-1", "m5.large", "instance"))
    estimate = price(rates, attempt_inputs(wall_s=100, cpu_s=1, peak_rss_bytes=0, shared_s=75))
    assert estimate.amount == pytest.approx(0.002)


def test_each_retry_is_priced_on_its_own(catalogue):
    rates = resolve_rates(catalogue, Target("aws", "us-east-1", "m5.large", "instance"))
    first = price(rates, attempt_inputs(wall_s=36, cpu_s=0, peak_rss_bytes=0))
    retry = price(rates, attempt_inputs(wall_s=72, cpu_s=0, peak_rss_bytes=0))
    assert (first.amount, retry.amount) == (pytest.approx(0.00096), pytest.approx(0.00192))


def test_reported_and_declared_usage_are_priced(catalogue):
    rates = resolve_rates(catalogue, Target("aws", "us-east-1", "m5.large", "instance"))
    inputs = attempt_inputs(wall_s=0, cpu_s=0, peak_rss_bytes=0, reported={"transfer_gb": 12},
                            declared={"requests": 2_000_000})  # fmt: skip
    estimate = price(rates, inputs)
    amounts = {line.what: line.amount for line in estimate.lines}
    assert amounts["transfer (reported)"] == pytest.approx(1.08)  # 12 GB x $0.09
    assert amounts["serverless requests (declared)"] == pytest.approx(0.40)  # 2M / 1M x $0.20
    assert estimate.status == "priced"


def test_usage_without_a_rate_is_unpriced_not_zero(catalogue):
    rates = resolve_rates(catalogue, Target("aws", "us-east-1", "m5.large", "instance"))
    estimate = price(rates, attempt_inputs(wall_s=36, cpu_s=0, peak_rss_bytes=0, reported={"storage_gb_month": 3}))
    assert estimate.status == "partial"
    assert "storage" in estimate.unpriced[0]


def test_an_unknown_instance_type_is_unpriced(catalogue):
    rates = resolve_rates(catalogue, Target("aws", "us-east-1", "m9.giant", "allocation"))
    estimate = price(rates, attempt_inputs(wall_s=36, cpu_s=1, peak_rss_bytes=0))
    assert estimate.status == "unpriced" and estimate.amount == 0
    assert "unknown aws instance type 'm9.giant'" in estimate.unpriced[0]


def test_stored_rates_and_inputs_reproduce_the_same_estimate(catalogue):
    rates = resolve_rates(catalogue, Target("aws", "us-east-1", "m5.large", "allocation"))
    inputs = attempt_inputs(wall_s=123.4, cpu_s=56.7, peak_rss_bytes=3 * GIB // 2, reported={"transfer_gb": 1.5})
    import json

    again = price(json.loads(json.dumps(rates)), json.loads(json.dumps(inputs)))
    assert again.amount == price(rates, inputs).amount
    assert [line.formula for line in again.lines] == [line.formula for line in price(rates, inputs).lines]
