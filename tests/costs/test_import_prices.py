"""An admin's own prices: imported from CSV or JSON, recorded as a version, and taking precedence."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

CSV = "provider,region,sku,kind,price,as_of,source\naws,us-east-1,m5.large,instance,0.05,2026-10-01,our contract\n"


def test_imported_prices_take_precedence_and_are_recorded(db, tmp_path):
    from costs import catalogues
    from costs.models import CatalogueVersion

    before, _ = catalogues.current()
    assert before.instance("aws", "us-east-1", "m5.large").hourly == 0.096
    path = tmp_path / "prices.csv"
    path.write_text(CSV)
    call_command("import_prices", str(path))
    version = CatalogueVersion.objects.get(kind="imported")
    assert version.sources[0]["file"] == "prices.csv" and version.sources[0]["as_of"] == "2026-10-01"
    after, in_use = catalogues.current()
    quote = after.instance("aws", "us-east-1", "m5.large")
    assert quote.hourly == 0.05 and quote.cited[0].layer == version.pk
    assert (quote.vcpu, quote.memory_gib) == (2, 8)  # the shape still comes from libcloud's table
    assert in_use[0] == version
    west = before.instance("aws", "us-west-2", "m5.large")
    assert after.instance("aws", "us-west-2", "m5.large") == west  # the rest still built in


def test_a_bad_file_is_refused_with_its_line_and_field(db, tmp_path):
    from costs.models import CatalogueVersion

    path = tmp_path / "bad.csv"
    path.write_text("provider,region,sku,kind,price\naws,us-east-1,m5.large,instance,0\n")
    with pytest.raises(CommandError, match=r"line 2: price: must be a number above 0"):
        call_command("import_prices", str(path))
    assert not CatalogueVersion.objects.filter(kind="imported").exists()


def test_the_api_imports_json_for_admins_only(client_as):
    body = {"content": '[{"provider": "gcp", "region": "*", "sku": "gcs", "kind": "storage", "price": 0.01}]',
            "filename": "p.json"}  # fmt: skip
    assert client_as("operator").post("/api/costs/catalogues/import/", body).status_code == 403
    response = client_as("admin").post("/api/costs/catalogues/import/", body)
    assert response.status_code == 201 and response.json()["kind"] == "imported"
    price = client_as("viewer").get("/api/costs/catalogues/prices/?provider=gcp&region=x&kind=storage").json()
    assert price["price"] == 0.01
    bad = client_as("admin").post("/api/costs/catalogues/import/", {"content": "[1]"})
    assert bad.status_code == 400 and "row 1" in bad.json()["detail"]


def test_build_price_catalogue_records_its_sources(db):
    from io import StringIO

    out = StringIO()
    call_command("build_price_catalogue", "--force", stdout=out)
    text = out.getvalue()
    assert "apache-libcloud" in text and "Apache-2.0" in text and "2020-06-30" in text
