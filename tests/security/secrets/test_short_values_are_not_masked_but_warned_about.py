"""A value too short to mask safely (fewer than 4 characters) is injected but not masked, and
the run says so: in the attempt's log, in its notices and on the run page."""

from __future__ import annotations

import pytest

from security.models import SecretNotice
from workflows.models import LogLine

from .conftest import run_now, workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_short_value_gives_a_warning_on_the_run(make_provider, vault_secret, client_as):
    make_provider()
    path = vault_secret({"pin": "42x"})
    run = run_now(workflow("short", {"a": {"run": 'echo "pin is $PIN"', "secrets": {"PIN": f"vault-test:{path}#pin"}}}))
    assert run.status == "success", run.message
    warning = SecretNotice.objects.get(run=run)
    assert warning.level == "warning"
    assert warning.message.startswith(f"secret PIN (vault-test:{path}#pin) is shorter than 4 characters")
    log = list(LogLine.objects.filter(run=run).values_list("text", flat=True))
    assert log == [f"warning: {warning.message}", "pin is 42x"]  # not masked: it would garble every log
    page = client_as("viewer").get(f"/runs/{run.pk}/").content.decode()
    assert 'id="secrets-panel"' in page and "is shorter than 4 characters" in page
