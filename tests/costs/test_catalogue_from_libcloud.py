"""The built-in catalogue, built from the real pricing.json that apache-libcloud ships (no Django)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from costs.pricing import catalogue as cat


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(cat.libcloud_pricing_path().read_text())


@pytest.fixture(scope="module")
def built() -> cat.Built:
    return cat.build_builtin()


@pytest.fixture(scope="module")
def catalogue(built) -> cat.Catalogue:
    return cat.Catalogue([built.rows])


def test_it_holds_every_ec2_type_and_region_of_the_file(raw, built):
    ec2 = raw["compute"]["ec2_linux"]
    pairs = sum(len(regions) for regions in ec2.values())
    assert built.counts["aws.instance"] == pairs
    assert len(ec2) > 900  # ~970 types in 35 regions
    regions = {r for regions in ec2.values() for r in regions}
    assert len(regions) >= 30
    zeros = sum(1 for regions in ec2.values() for price in regions.values() if float(price) == 0)
    assert built.counts["aws.instance.unpriced"] == zeros > 0


def test_every_source_is_recorded_with_package_file_hash_licence_and_date(raw, built):
    by_name = {s.name: s for s in built.sources}
    updated = datetime.fromtimestamp(int(raw["updated"]), tz=UTC).date().isoformat()
    assert by_name["libcloud-ec2"].as_of == updated == "2025-03-02"
    assert by_name["libcloud-gcp"].as_of == "2020-06-30"  # far older than the rest: shown as stale
    assert by_name["libcloud-ec2"].sha256 == cat.sha256_of(cat.libcloud_pricing_path())
    assert by_name["libcloud-ec2"].licence == "Apache-2.0"
    assert by_name["libcloud-ec2"].package == "apache-libcloud" and by_name["libcloud-ec2"].version[0].isdigit()
    assert all(s.file and s.sha256 and s.as_of for s in built.sources)


def test_known_prices_equal_the_files(raw, catalogue):
    ec2, azure = raw["compute"]["ec2_linux"], raw["compute"]["azure_linux"]
    for sku, region in (("m5.large", "us-east-1"), ("c5.xlarge", "eu-west-1"), ("t3.micro", "us-west-2")):
        quote = catalogue.instance("aws", region, sku)
        assert quote.hourly == ec2[sku][region]
    quote = catalogue.instance("azure", "eastus", "Standard_D2s_v3")
    assert quote.hourly == azure["standardd2sv3"]["eastus"]
    assert (quote.vcpu, quote.memory_gib) == (2, 8)


def test_gcp_machine_types_are_priced_from_the_providers_own_vcpu_and_gib_rates(raw, catalogue):
    n2 = raw["compute"]["gce_instances"]["n2"]
    cpu = n2["cpu"]["on_demand"]["us-central1"]["price"]
    ram = n2["ram"]["on_demand"]["us-central1"]["price"]
    quote = catalogue.instance("gcp", "us-central1", "n2-standard-4")
    assert (quote.vcpu, quote.memory_gib) == (4, 16)
    assert quote.hourly == pytest.approx(4 * cpu + 16 * ram)
    assert (quote.vcpu_hour, quote.gib_hour) == (cpu, ram)


def test_a_zero_in_the_file_is_unpriced_with_the_reason_never_free(raw, catalogue):
    ec2 = raw["compute"]["ec2_linux"]
    sku, region = next((s, r) for s, regions in ec2.items() for r, p in regions.items() if float(p) == 0)
    quote = catalogue.instance("aws", region, sku)
    assert isinstance(quote, cat.Unpriced)
    assert "0.0" in quote.reason and "no price" in quote.reason


def test_unknown_types_and_regions_are_unpriced_with_the_reason(catalogue):
    assert "did you mean 'm5.large'" in catalogue.instance("aws", "us-east-1", "m5.lrge").reason
    assert "no price for m5.large in region 'mars-1'" in catalogue.instance("aws", "mars-1", "m5.large").reason
    assert "unknown provider" in catalogue.instance("ibm", "x", "y").reason
    assert (
        "unknown gcp machine type 'n2-standard-3'" in catalogue.instance("gcp", "us-central1", "n2-standard-3").reason
    )


def test_storage_transfer_and_serverless_rates_carry_their_source_and_date(catalogue):
    for kind in ("storage", "transfer", "serverless_compute", "serverless_requests"):
        for provider in cat.PROVIDERS:
            rate = catalogue.rate(provider, "anywhere-1", kind)
            assert rate.price > 0 and rate.cited.source == "vendor-rates" and rate.cited.as_of == "2025-03-01"


def test_prices_older_than_twelve_months_are_stale():
    assert cat.is_stale("2020-06-30", today=date(2026, 1, 1))
    assert not cat.is_stale("2025-03-02", today=date(2025, 12, 1))
