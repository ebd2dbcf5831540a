"""The trace pages: search, one trace's waterfall page, two traces side by side."""

from __future__ import annotations

import json

import pytest

from tests.tracing.conftest import run_now
from tracing.models import Trace

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def traces():
    fast = run_now("name: fast\ntasks:\n  a: {run: 'true'}\n")
    slow = run_now("name: slow\ntasks:\n  a: {run: 'sleep 0.2'}\n")
    return Trace.objects.get(run=fast), Trace.objects.get(run=slow)


def test_the_list_searches_by_duration(client_as, traces):
    page = client_as("viewer").get("/traces/", {"min_duration": "0.15"}).content.decode()
    assert "slow #1" in page and "fast #1" not in page


def test_the_list_explains_a_bad_search(client_as, traces):
    response = client_as("viewer").get("/traces/", {"attribute": "oops"})
    assert response.status_code == 200 and "attribute: write it as key=value" in response.content.decode()


def test_the_trace_page_carries_its_spans_for_the_waterfall(client_as, traces):
    fast, slow = traces
    response = client_as("viewer").get(f"/traces/{fast.trace_id}/")
    page = response.content.decode()
    start = page.index('id="trace-data"')
    data = json.loads(page[page.index(">", start) + 1 : page.index("</script>", start)])
    assert [s["name"] for s in data["spans"]] == ["run fast #1", "a"]
    assert data["trace"]["trace_id"] == fast.trace_id and "js/trace.js" in page


def test_the_compare_page_shows_both_traces(client_as, traces):
    fast, slow = traces
    response = client_as("viewer").get("/traces/compare/", {"t": [fast.trace_id, slow.trace_id]})
    page = response.content.decode()
    assert response.status_code == 200 and "fast #1" in page and "slow #1" in page and 'id="compare-table"' in page


def test_the_compare_page_asks_for_two_traces(client_as, traces):
    response = client_as("viewer").get("/traces/compare/", {"a": traces[0].trace_id})
    assert response.status_code == 400 and "b: choose a trace" in response.content.decode()


def test_the_run_page_has_the_waterfall_panel(client_as, traces):
    page = client_as("viewer").get(f"/runs/{traces[0].run_id}/").content.decode()
    assert 'id="trace-panel"' in page and "js/tracing_run.js" in page


def test_the_pages_need_a_login(client, traces):
    response = client.get(f"/traces/{traces[0].trace_id}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_unknown_trace_is_a_404(client_as, traces):
    assert client_as("viewer").get("/traces/" + "0" * 31 + "1/").status_code == 404
