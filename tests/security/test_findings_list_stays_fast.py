"""The findings list reads one page, whatever the table's size: every sort order is served by an
index (no sort of the whole table), pages are keyset (LIMIT, no OFFSET), counts are bounded."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from security import listing

from .conftest import make_findings


@pytest.fixture
def many(db):
    return make_findings(3000)


@pytest.mark.parametrize("sort", list(listing.SORTS))
def test_each_sort_order_walks_an_index_instead_of_sorting_the_table(many, sort):
    if connection.vendor != "sqlite":
        pytest.skip("reads SQLite's query plan; PostgreSQL plans by statistics")
    order = [f"-{n}" if desc else n for n, desc in listing.SORTS[sort]]
    sql, params = listing.Finding.objects.order_by(*order)[:51].query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())

    assert "TEMP B-TREE" not in plan, plan


def test_a_page_is_a_few_bounded_queries(client_as, many):
    client = client_as("viewer")
    client.get("/findings/")  # warm the session and permission caches

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/findings/", {"state": "all", "sort": "newest"})

    assert response.status_code == 200 and "1000+" in response.content.decode()
    finding_queries = [q["sql"] for q in queries if "security_finding" in q["sql"]]
    assert len(finding_queries) <= 4
    assert all("LIMIT" in sql.upper() or "DISTINCT" in sql.upper() for sql in finding_queries)
    assert not any("OFFSET" in sql.upper() for sql in finding_queries)


def test_following_the_next_link_reaches_every_finding_once(client_as, many):
    from security.models import Finding

    seen = []
    params = {"state": "all", "sort": "severity"}
    while True:
        page = listing.page(params)
        seen += [f.pk for f in page.rows]
        if not page.next_cursor:
            break
        params = {**params, "after": page.next_cursor}

    assert len(seen) == len(set(seen)) == Finding.objects.count() == 3000
